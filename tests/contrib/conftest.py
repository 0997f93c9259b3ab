from ..stacks.conftest import node_modules  # noqa: F401 - Vite, htmx from the browser fixture

"""Loading WhiteNoise's own HTTP tests from its source distribution, run against skewguard.

The test modules come from ``pip download --no-deps --no-binary :all: whitenoise==<installed>``
into a cache directory at test time: nothing of WhiteNoise's is kept in this repository. Its
sdist ships the test modules without their helpers (``tests/utils.py``) and test files, so this
module provides both: ``AppServer`` (the application under a real wsgiref server on a loopback
port, below WhiteNoise's ``/subdir`` prefix) and ``Files`` (the named test files, written into a
temporary directory).
"""

from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import types
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.util import shift_path_info

CACHE = Path(tempfile.gettempdir()) / "skewguard-test-sources"


def whitenoise_tests(module: str) -> Path:
    """The path of ``tests/<module>.py`` from the installed WhiteNoise's source distribution."""
    version = importlib.metadata.version("whitenoise")
    target = CACHE / f"whitenoise-{version}"
    path = target / "tests" / f"{module}.py"
    if path.exists():
        return path
    download = CACHE / "downloads"
    download.mkdir(parents=True, exist_ok=True)
    archive = download / f"whitenoise-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            + ["--no-binary", ":all:", f"whitenoise=={version}", "-d", str(download)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    with tarfile.open(archive) as tar:
        prefix = f"whitenoise-{version}/tests/"
        for member in tar.getmembers():
            if member.name.startswith(prefix) and member.isfile():
                member.name = member.name[len(f"whitenoise-{version}/") :]
                tar.extract(member, target, filter="data")
    return path


def load_module(module: str, replacements: dict[str, Any]) -> types.ModuleType:
    """Import WhiteNoise's ``tests/<module>.py`` with ``tests.utils`` provided here, then
    replace the names in ``replacements`` (WhiteNoise's own classes) in its namespace."""
    path = whitenoise_tests(module)
    shim = types.ModuleType("tests.utils")
    shim.AppServer = AppServer  # type: ignore[attr-defined]
    shim.Files = Files  # type: ignore[attr-defined]
    saved = sys.modules.get("tests.utils")
    sys.modules["tests.utils"] = shim
    try:
        spec = importlib.util.spec_from_file_location(f"whitenoise_upstream_{module}", path)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    finally:
        if saved is None:
            sys.modules.pop("tests.utils", None)
        else:
            sys.modules["tests.utils"] = saved
    for name, value in replacements.items():
        setattr(loaded, name, value)
    return loaded


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class AppServer:
    """A WSGI application under a real wsgiref server, mounted below ``/subdir``."""

    PREFIX = "subdir"

    def __init__(self, application: Any):
        self.application = application
        self.server = make_server("127.0.0.1", 0, self._under_prefix, handler_class=_Quiet)

    def _under_prefix(self, environ: dict[str, Any], start_response: Any) -> Any:
        if shift_path_info(environ) != self.PREFIX:
            start_response("404 Not Found", [])
            return []
        return self.application(environ, start_response)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.request("get", *args, **kwargs)

    def request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        import requests

        host, port = self.server.server_address[:2]
        thread = threading.Thread(target=self.server.handle_request)
        thread.start()
        try:
            return requests.request(method, f"http://{host}:{port}{path}", *args, **kwargs)
        finally:
            thread.join()

    def close(self) -> None:
        self.server.server_close()


# Content for the test files WhiteNoise's tests name. As in WhiteNoise's own set, only the file
# shipped with a .gz beside it has a compressed form: the others stay below the size a build
# compresses (256 bytes).
def _content(path: str, directory: str) -> bytes:
    if path.endswith(".gz"):
        return gzip.compress(_content(path[:-3], directory), mtime=0)
    if directory == "static":  # the Django tests' collected files: big enough to compress
        return "".join(f"/* {path} */ var line{i} = {i};\n" for i in range(60)).encode()
    if path.endswith(".html"):
        return b"<!doctype html><html><head></head><body>index</body></html>\n"
    if path == "compressed.css":
        return "".join(f".c{i} {{ color: #{i:06x} }}\n" for i in range(60)).encode()
    return f"/* {path} */ var answer = 42; function f(a, b) {{ return a + b; }}\n".encode()


class Files:
    """The named test files, written under a temporary directory: ``<name>_path``,
    ``<name>_url`` (below AppServer's prefix) and ``<name>_content``."""

    def __init__(self, directory: str, **files: str):
        self.directory = tempfile.mkdtemp(prefix=f"whitenoise-{directory}-")
        for name, path in files.items():
            full = os.path.join(self.directory, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            content = _content(path, directory)
            with open(full, "wb") as fh:
                fh.write(content)
            setattr(self, name + "_path", path)
            setattr(self, name + "_url", f"/{AppServer.PREFIX}/{path}")
            setattr(self, name + "_content", content)

"""A built site with the files the parity tests need, and the three adapters over it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from skewguard import Skewguard
from skewguard.build import BuildOptions, build

from ..build.helpers import write_tree
from .harness import ADAPTERS, Adapter

BIG = "".join(f"export const v{i} = {i};\n" for i in range(20000)).encode()  # > 256 KB: streamed
SMALL = ("console.log('small');\n" * 40).encode()
OTHER_ARCHIVE = gzip.compress(b"a different archive\n" * 50)
SOURCES: dict[str, str | bytes] = {
    "js/app.js": SMALL,
    "js/big.js": BIG,
    "img/café.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>" + " " * 600,
    "dl/data.csv": "a,b\n" * 500,
    "dl/data.csv.gz": OTHER_ARCHIVE,  # a real source file, not data.csv's gzip form
    "page.html": "<html><head></head><body>static page</body></html>",
}


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    src = write_tree(tmp_path / "src", SOURCES)
    out = tmp_path / "out"
    build([str(src)], str(out), BuildOptions())
    root_files = write_tree(
        tmp_path / "root",
        {"robots.txt": "User-agent: *\n", ".well-known/security.txt": "Contact: x@example.org\n"},
    )
    return out, root_files


def make_guard(out: Path, **options: object) -> Skewguard:
    return Skewguard(static_root=str(out), secret_key="s3cret", vite_hot_file="", **options)


@pytest.fixture(params=ADAPTERS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def adapter_for(kind: str):  # type: ignore[no-untyped-def]
    """``adapter_for(guard, script_name="")``: the adapter under test, over ``guard``."""

    def make(guard: Skewguard, script_name: str = "") -> Adapter:
        return Adapter(kind, guard, script_name)

    return make


@pytest.fixture
def adapter(site: tuple[Path, Path], adapter_for) -> Adapter:  # type: ignore[no-untyped-def]
    out, _ = site
    return adapter_for(make_guard(out))

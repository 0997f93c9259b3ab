"""What a build is asked to do (BuildOptions) and what it reports (BuildReport).

Kept apart from the builder so that an up-to-date rebuild imports nothing heavy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import BuildError
from .import_hook import FORMAT as HOOK_FORMAT


@dataclass
class BuildOptions:
    hash_length: int = 12
    originals: bool = True  # also write canonical-name copies
    strict: bool = False  # missing references fail the build
    es_modules: bool = True  # rewrite ES module specifiers in JS
    # Wrap dynamic import() calls so that the page's client holds a reload while one loads
    # (import_hook.py); files a bundler hashed are never changed.
    import_hook: bool = True
    static_url: str = "/static/"  # maps root-absolute references into the tree
    passthrough: re.Pattern[str] | None = None  # names already hashed by a bundler
    compress: bool = True
    # Chosen by measurement on the real-world npm tree (docs/benchmarks.md): brotli 8 takes 40%
    # of quality 9's time for 0.5% larger files, gzip 6 57% of level 9's for 0.5%.
    brotli_quality: int = 8
    gzip_level: int = 6
    zstd_level: int = 9
    release_id: str | None = None  # default: the manifest hash
    force: bool = False  # replace a corrupt or foreign staticfiles.json
    # Permissions of written files and directories (Django's FILE_UPLOAD_PERMISSIONS and
    # FILE_UPLOAD_DIRECTORY_PERMISSIONS); None: what the umask gives.
    file_mode: int | None = None
    dir_mode: int | None = None
    # Worker processes for hashing, scanning and compression; 1 keeps everything in-process.
    # Small builds stay in-process whatever this says: forking would cost more than it saves.
    workers: int = field(default_factory=lambda: usable_cpus())

    def fingerprint(self) -> str:
        """What the per-file cache depends on."""
        pattern = self.passthrough.pattern if self.passthrough else ""
        hook = f"hook{HOOK_FORMAT}" if self.import_hook else "nohook"
        return f"{self.hash_length}|{self.es_modules}|{self.static_url}|{pattern}|{hook}"

    def full_fingerprint(self, encoders: list[str]) -> str:
        """Everything that shapes the output directory, for the up-to-date check."""
        levels = f"{self.brotli_quality},{self.gzip_level},{self.zstd_level}"
        modes = f"{self.file_mode},{self.dir_mode}"
        return (
            f"{self.fingerprint()}|{self.originals}|{self.compress}|{levels}|{encoders}"
            f"|{self.release_id}|{modes}"
        )


@dataclass
class BuildReport:
    out: str
    version: str = ""
    release_id: str = ""
    files: int = 0
    bytes: int = 0
    passed_through: int = 0
    written: int = 0
    compressed: int = 0
    compression_saved: int = 0
    processes: int = 1  # processes that did the per-file work (1: all in the main process)
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def replay(cls, recorded: dict[str, Any], seconds: float) -> BuildReport:
        """The report of an up-to-date rebuild: the previous one, with nothing written."""
        fields = (
            "out",
            "version",
            "release_id",
            "files",
            "bytes",
            "passed_through",
            "warnings",
            "missing",
        )
        return cls(**{name: recorded[name] for name in fields}, seconds=seconds)

    def as_dict(self) -> dict[str, object]:
        return {
            "out": self.out,
            "version": self.version,
            "release": self.release_id,
            "files": self.files,
            "bytes": self.bytes,
            "passed_through": self.passed_through,
            "written": self.written,
            "compressed": self.compressed,
            "compression_saved": self.compression_saved,
            "processes": self.processes,
            "warnings": self.warnings,
            "missing": self.missing,
            "seconds": round(self.seconds, 3),
        }


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class MissingReferences(BuildError):
    """``--strict`` and at least one reference that resolves to no file."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(f"{len(missing)} missing reference(s) (--strict)")

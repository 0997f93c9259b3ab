"""The names a build owns in its output directory, kept apart from the sources it copies there.

A source may not take a name the build writes itself (the manifest, the state directory): it
would be linked over the manifest, or be clobbered by it. Temporary files that a killed build
left behind (its atomic writes rename a ``.NAME.<pid>.<random>.tmp`` into place) are removed by
the next build, which holds the directory's lock, so no other build is writing them.
"""

from __future__ import annotations

import os
import re

from ..layout import STATE_DIR
from ..manifest import MANIFEST_NAME
from .errors import BuildError
from .sources import SourceFile

# Files the build writes atomically: the manifest in the output directory, the rest in the state
# directory. Other writers there (a server's release registry) keep their own temporaries.
_STATE_FILES = ("releases.json", "build-cache.json", "build-stamp.json")
_TEMPORARY = re.compile(r"\A\.(?P<name>.+)\.\d+\.[0-9a-f]{8}\.tmp\Z")


def refuse_output_collisions(files: dict[str, SourceFile]) -> None:
    """One clear error for the first source that would land on a name the build writes."""
    for canonical in sorted(files):
        if canonical == MANIFEST_NAME:
            what = f"the build's manifest {MANIFEST_NAME}"
        elif canonical == STATE_DIR or canonical.startswith(STATE_DIR + "/"):
            what = f"the build's state directory {STATE_DIR}/"
        else:
            continue
        raise BuildError(
            f"source {files[canonical].path} would be written over {what}; "
            "rename it or move it out of the source directory"
        )


def remove_stale_temporaries(out: str) -> list[str]:
    """Delete the temporaries of the build's own atomic writes; return what was removed."""
    removed = []
    for directory, owned in ((out, (MANIFEST_NAME,)), (os.path.join(out, STATE_DIR), _STATE_FILES)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            match = _TEMPORARY.match(name)
            if match and match.group("name") in owned:
                path = os.path.join(directory, name)
                try:
                    os.unlink(path)
                except OSError:
                    continue
                removed.append(path)
    return removed

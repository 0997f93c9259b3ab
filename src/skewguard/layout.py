"""Where skewguard keeps its own files inside an output directory (never served)."""

from __future__ import annotations

import os

STATE_DIR = ".skewguard"  # release history, build cache and stamp, file registry
RELEASE_HISTORY = os.path.join(STATE_DIR, "releases.json")

"""Where skewguard keeps its own state inside an output directory (STATIC_ROOT).

Every module that reads or writes the build cache, the release history, the registry or the
worker records names this one directory, so the build can refuse sources that would land in it
and prune and serving can leave it alone.
"""

STATE_DIR = ".skewguard"

"""Precompressed siblings: HTTP content-coding -> file suffix (shared by build and runtime)."""

SUFFIX = {"gzip": ".gz", "br": ".br", "zstd": ".zst"}

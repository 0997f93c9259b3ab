#!/usr/bin/env bash
# Rebuilds the browser client's minified file from its readable source (both are committed).
# esbuild is pinned in tests/fixtures/browser/package.json; tests/client checks the committed
# file equals a fresh build, so the build is reproducible and never stale.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
fixture="$root/tests/fixtures/browser"
[ -x "$fixture/node_modules/.bin/esbuild" ] || npm ci --prefix "$fixture" --no-audit --no-fund >/dev/null
"$fixture/node_modules/.bin/esbuild" "$root/src/skewguard/client/skewguard.js" \
  --minify --target=es2017 --legal-comments=none --log-level=warning \
  --outfile="${1:-$root/src/skewguard/client/skewguard.min.js}"

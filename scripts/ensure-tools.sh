#!/usr/bin/env bash
# Installs the system tools the test suite drives for real, when they are missing.
# Only under CI=true: locally, tests that need a missing tool skip with a reason instead.
set -euo pipefail

# command -> Debian package
declare -A tools=(
  [npm]=npm
  [chromium]=chromium
  [redis-server]=redis-server
  [nginx]=nginx
)

missing=()
for cmd in "${!tools[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${tools[$cmd]}")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "${CI:-}" != "true" ]; then
  echo "note: missing ${missing[*]}; the tests that need them will be skipped (CI installs them)."
  exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

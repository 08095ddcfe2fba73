#!/usr/bin/env bash
# The test suite: installs missing packages, builds the `dev` (warnings as errors) and `asan`
# (address + undefined behaviour sanitizers) presets, and runs every unit and end-to-end test in both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# ccache (when installed) may reuse objects from another checkout of the same sources.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
for preset in dev asan; do
  echo "== $preset: configure and build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset: test" >&2
  ctest --preset "$preset"
done

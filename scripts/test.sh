#!/usr/bin/env bash
# The test suite: installs missing packages, builds the `asan` preset (Debug with -Wall -Wextra
# -Werror, AddressSanitizer and UndefinedBehaviorSanitizer) and runs every unit and end-to-end
# test in it. One build checks warnings and sanitizers together, which keeps CI well under its
# time budget on two cores. HEARTH_TEST_PRESETS="dev asan" runs the suite in several presets.
# The tests run beside a throwaway PostgreSQL (scripts/with-postgres.sh, a few seconds), so the
# store contract suite and tests/e2e/test_postgres.py cover that backend too; without one they
# print why they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# ccache (when installed) may reuse objects from another checkout of the same sources.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
for preset in ${HEARTH_TEST_PRESETS:-asan}; do
  echo "== $preset: configure and build" >&2
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
  echo "== $preset: test" >&2
  scripts/with-postgres.sh ctest --preset "$preset"
done

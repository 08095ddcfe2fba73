#!/usr/bin/env bash
# The main job on the bundled example: installs missing packages, builds hearth (release), scaffolds
# the default weather-agent project with `hearth init` and shows what hearth discovered in it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release >&2
hearth="$PWD/build/release/apps/hearth/hearth"
demo="$(mktemp -d)/weather"
"$hearth" init "$demo" --no-git
cd "$demo"
"$hearth" info

#!/usr/bin/env bash
# The main job on the bundled example: installs missing packages, builds hearth (release), and runs
# the hello workflow of examples/hello offline (model mock/script): the result is printed on stdout,
# the streamed events on stderr. Then it replays the run from the store with `hearth logs`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release --target hearth >&2 # only what the demo runs
hearth="$PWD/build/release/apps/hearth/hearth"
work="$(mktemp -d)"
cp -r examples/hello "$work/hello"
cd "$work/hello"
"$hearth" run hello --payload '{"name":"World"}' 2> >(tee run.log >&2)
run_id=$(sed -n 's/^run \(run_[0-9A-Z]*\)$/\1/p' run.log)
echo "--- hearth logs $run_id" >&2
"$hearth" logs "$run_id"

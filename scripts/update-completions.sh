#!/usr/bin/env bash
# Regenerates the checked-in completion scripts under completions/ from a built hearth binary
# (tests/e2e/test_completion.py fails when they drift from `hearth completion <shell>`).
# Usage: scripts/update-completions.sh [path/to/hearth]   (default: build/dev/apps/hearth/hearth)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/dev/apps/hearth/hearth}"
[[ -x "$bin" ]] || { echo "no hearth binary at $bin; build first: cmake --build --preset dev" >&2; exit 1; }
mkdir -p completions
"$bin" completion bash > completions/hearth.bash
"$bin" completion zsh > completions/_hearth
"$bin" completion fish > completions/hearth.fish
echo "updated completions/hearth.bash completions/_hearth completions/hearth.fish from $bin" >&2

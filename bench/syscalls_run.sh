#!/usr/bin/env bash
# System calls per durable run (issue 17 §3): `hearth start` of throughput_bench.py's project,
# 50 warm-up `POST /workflows/hello?wait=result` runs, then `strace -c -f` attached while `ab`
# makes N sequential runs; prints the calls per run by name. On a paravirtualized VM a system
# call or a futex wake-up costs microseconds, so their count matters beside the instructions
# (bench/callgrind_run.sh). Counts are exact where the VM's wall clock is not.
#   bench/syscalls_run.sh [path/to/hearth] [store] [runs]   # store: memory: (default) or
#                                                           # sqlite:state/state.db[?synchronous=full]
# Needs strace, ab (apache2-utils) and curl.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
hearth="$(realpath "${1:-$root/build/release/apps/hearth/hearth}")"
store="${2:-memory:}"
runs="${3:-300}"
for tool in strace ab curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install strace apache2-utils curl)" >&2; exit 2; }
done
tmp="$(mktemp -d /tmp/hearth-syscalls-XXXXXX)"
server=""
tracer=""
trap '[ -n "$tracer" ] && kill "$tracer" 2>/dev/null; [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
python3 - "$root/bench" "$tmp" "$hearth" "$store" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import throughput_bench
throughput_bench.make_project(sys.argv[2], sys.argv[3], sys.argv[4])
PY
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cd "$tmp/proj"
HEARTH_STATE_DIR="$tmp/proj/state" "$hearth" start dist --insecure-no-auth --port "$port" >/dev/null 2>&1 &
server=$!
url="http://127.0.0.1:$port/workflows/hello?wait=result"
echo '{"name":"x"}' >"$tmp/body.json"
post() { curl -s -o /dev/null -XPOST -H 'content-type: application/json' -d @"$tmp/body.json" "$url"; }
for _ in $(seq 1 200); do post && break; sleep 0.1; done
ab -q -n 50 -p "$tmp/body.json" -T application/json "$url" >/dev/null
strace -c -f -p "$server" -o "$tmp/strace.txt" 2>/dev/null &
tracer=$!
sleep 1 # strace attaches to every thread first
ab -q -n "$runs" -p "$tmp/body.json" -T application/json "$url" | grep -E "Failed requests"
kill -INT "$tracer"
wait "$tracer" 2>/dev/null || true
tracer=""
echo "system calls per run ($runs sequential runs, store $store):"
awk -v n="$runs" 'NR > 2 && $4 + 0 > 0 && $NF != "total" { printf "  %-18s %8.2f\n", $NF, $4 / n }' \
  "$tmp/strace.txt" | sort -k2 -nr
awk -v n="$runs" '$NF == "total" { printf "  %-18s %8.2f\n", "total", $4 / n }' "$tmp/strace.txt"

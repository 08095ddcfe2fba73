#!/usr/bin/env bash
# Builds the libFuzzer targets with Debian's clang (outside the CMake build: libFuzzer needs
# clang, the project builds with GCC) and runs each for a bounded time.
# Usage: tests/fuzz/run.sh [seconds-per-target] [targets...]   (default 60; all targets)
#        HEARTH_FUZZ_TARGETS="json_lines" tests/fuzz/run.sh 600   (the same, from the environment)
# fuzz_http needs the dev build's library (cmake --build --preset dev --target hearth_lib): the
# server sources are compiled here with coverage and ASan, the rest is linked from that archive.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
out="${HEARTH_FUZZ_DIR:-$src/build/fuzz}"
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || read -r -a targets <<<"${HEARTH_FUZZ_TARGETS:-frontmatter json spec json_lines http}"
cxx="${CXX_FUZZ:-clang++-14}"
mkdir -p "$out"

flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$src/lib" -DHEARTH_VERSION=\"fuzz\" -DVALIJSON_USE_EXCEPTIONS=1)
lib_sources=("$src"/lib/discovery/*.cpp "$src/lib/core/text.cpp" "$src/lib/core/json_schema.cpp"
             "$src"/lib/ipc/*.cpp "$src"/lib/core/errors_*.cpp "$src/lib/core/json.cpp"
             "$src/lib/core/signals.cpp")

# The library objects once, without -fsanitize=fuzzer's main (fuzzer-no-link).
objs=()
for f in "${lib_sources[@]}"; do
  o="$out/$(basename "$f" .cpp).o"
  if [[ ! -f "$o" || "$f" -nt "$o" ]]; then
    "$cxx" "${flags[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" -c "$f" -o "$o"
  fi
  objs+=("$o")
done

# The dev build's library: what the instrumented objects call but do not define (e.g. discovery
# validating `sandbox` settings through lib/sandbox) is linked from it; the linker takes only the
# members it still needs, so the instrumented objects win.
archive="${HEARTH_LIB_ARCHIVE:-$src/build/dev/lib/libhearth_lib.a}"
archive_libs=(-lfmt -lSQLiteCpp -lsqlite3 -lyaml-cpp -lcpp-httplib -lssl -lcrypto -ledit -ldl -lpthread)
need_archive() {
  [[ -f "$archive" ]] || { echo "fuzz: build $archive first (cmake --build --preset dev --target hearth_lib)"; exit 1; }
}

# fuzz_http: lib/server and core/json instrumented; everything else from the dev archive (the
# linker takes only the members it still needs, so the instrumented objects win).
build_http() {
  need_archive
  local http_objs=()
  # server.cpp (the Asio coroutines) comes from the archive, built by GCC: clang 14 with ASan
  # fails on these coroutines ("Cannot represent a difference across sections"). The parser,
  # router, handlers and streams around it are instrumented.
  for f in "$src"/lib/server/*.cpp "$src"/lib/server/auth/*.cpp "$src/lib/core/json.cpp"; do
    [[ "$(basename "$f")" == server.cpp ]] && continue
    local o="$out/http_$(basename "$(dirname "$f")")_$(basename "$f" .cpp).o"
    if [[ ! -f "$o" || "$f" -nt "$o" ]]; then
      "$cxx" "${flags[@]/-fsanitize=fuzzer,address,undefined/-fsanitize=fuzzer-no-link,address,undefined}" \
        -DFMT_SHARED -c "$f" -o "$o"
    fi
    http_objs+=("$o")
  done
  "$cxx" "${flags[@]}" "$here/fuzz_http.cpp" "${http_objs[@]}" "$archive" "${archive_libs[@]}" \
    -o "$out/fuzz_http"
}

total=0
for target in "${targets[@]}"; do
  bin="$out/fuzz_$target"
  if [[ "$target" == http ]]; then
    build_http
  else
    need_archive
    "$cxx" "${flags[@]}" "$here/fuzz_$target.cpp" "${objs[@]}" "$archive" "${archive_libs[@]}" -o "$bin"
  fi
  corpus="$out/corpus_$target"
  mkdir -p "$corpus"
  cp -n "$here/corpus/$target"/* "$corpus/" 2>/dev/null || true
  log="$out/fuzz_$target.log"
  echo "== fuzz_$target for ${seconds}s"
  "$bin" "$corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/" >"$log" 2>&1 || { tail -50 "$log"; echo "fuzz_$target FAILED"; exit 1; }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  echo "   executions: $runs   corpus: $(ls "$corpus" | wc -l) inputs"
  total=$((total + runs))
done
echo "total executions: $total"

#!/usr/bin/env bash
# Installs the Debian 12 packages hearth builds and tests with, when any is missing.
# Usage: scripts/deps.sh [build|test]   (test adds what the test suite drives: zsh, fish, ...)
set -euo pipefail

build_packages=(cmake ninja-build g++ pkg-config git python3
  libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev doctest-dev libboost-dev
  libsqlite3-dev libsqlitecpp-dev libyaml-cpp-dev libvalijson-dev libfmt-dev libedit-dev
  bubblewrap # bwrap: the default sandbox of agent commands (docs/sandbox.md)
  libpq-dev) # the PostgreSQL store (issue 15, docs/deploy.md)
test_packages=(zsh fish bash-completion clang libclang-rt-14-dev procps
  gdb) # gdb: the unit runner's watchdog prints the stacks of a hung test case
# postgresql: scripts/with-postgres.sh runs a throwaway server for the PostgreSQL tests; haproxy:
# the load balancer in front of two replicas in test_postgres.py (deploy/compose's). Optional:
# when one cannot be installed those tests skip it with the reason, and the rest still run.
optional_test_packages=(postgresql haproxy)

packages=("${build_packages[@]}")
if [[ "${1:-build}" == test ]]; then packages+=("${test_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "Installing missing packages: ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

if [[ "${1:-build}" == test ]]; then
  optional=()
  for p in "${optional_test_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || optional+=("$p")
  done
  if ((${#optional[@]})); then
    echo "Installing optional test packages: ${optional[*]}" >&2
    sudo_cmd=()
    [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    # No cluster of the package's own: the tests start a throwaway server of their own.
    "${sudo_cmd[@]}" mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" |
      "${sudo_cmd[@]}" tee /etc/postgresql-common/createcluster.d/hearth-no-main.conf >/dev/null
    ( [[ -n "${missing[*]:-}" ]] || "${sudo_cmd[@]}" apt-get update -qq ) &&
      DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
        --no-install-recommends "${optional[@]}" >&2 ||
      echo "Could not install ${optional[*]}: the PostgreSQL tests will skip." >&2
  fi
fi

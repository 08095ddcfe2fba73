// The store contract suite's backends: every STORE_CONTRACT test runs once per backend, so a new
// Store implementation (e.g. PostgreSQL) joins by adding a backend type to the list below.
#pragma once

#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <memory>

namespace store_contract {

/// A file-backed SQLite store. `shared`: two Store objects can open the same data, as two
/// runtime processes do during a dev reload.
struct SqliteFile {
  static constexpr bool shared = true;
  TempProject tmp{};
  std::unique_ptr<hearth::store::Store> open() {
    return hearth::store::open_store("sqlite:" + (tmp.root() / "state.db").string());
  }
};

/// The in-memory store: one process, one connection.
struct Memory {
  static constexpr bool shared = false;
  std::unique_ptr<hearth::store::Store> open() { return hearth::store::open_store("memory:"); }
};

} // namespace store_contract

#define STORE_CONTRACT(name)                                                                     \
  TEST_CASE_TEMPLATE(name, Backend, store_contract::SqliteFile, store_contract::Memory)

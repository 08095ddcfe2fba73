// Schema migrations: ordered steps (SQL, and one of code) under `PRAGMA user_version`, and the
// checks that refuse a file hearth did not write or a schema from a newer hearth (seed 003 page 18
// "Schema versioning").
#pragma once

#include "store/database.hpp"

namespace hearth::store {

/// `PRAGMA application_id` stamped on every hearth database ("hrth"), so a foreign SQLite file
/// is recognised instead of being written into.
inline constexpr std::int64_t k_application_id = 0x68727468;

/// The number of migration steps, i.e. the schema version this build writes.
int latest_schema_version();

/// Brings `conn` to the latest schema in one write transaction (safe when two processes open the
/// same new file at once). Throws store_foreign, store_too_new, store_corrupt or store_failed.
void migrate(db::Connection& conn);

} // namespace hearth::store

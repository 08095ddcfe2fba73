// SQLite-specific store tests: locations, migrations, refusing newer or foreign or corrupt files.
#include "core/error.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <fstream>

using namespace hearth::store;

namespace {

// Runs `sql` on the file at `path` with a plain connection, as another program would; returns
// SQLite's result code.
int raw_rc(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

void raw_exec(const std::filesystem::path& path, const std::string& sql) {
  REQUIRE(raw_rc(path, sql) == SQLITE_OK);
}

long long raw_int(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  const auto value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

/// Column `column` of each row of `sql` on the file at `path`, one line per row.
std::string raw_column(const std::filesystem::path& path, const std::string& sql, int column) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  std::string out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column));
    out += std::string(text != nullptr ? text : "") + "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::string raw_text(const std::filesystem::path& path, const std::string& sql) {
  return raw_column(path, sql, 0);
}

/// The opcodes of `sql`'s program (EXPLAIN's second column), one per line.
std::string opcodes(const std::filesystem::path& path, const std::string& sql) {
  return raw_column(path, "EXPLAIN " + sql, 1);
}

hearth::ErrorInfo open_error(const std::string& location) {
  try {
    open_store(location);
  } catch (const hearth::Error& e) {
    return e.info();
  }
  FAIL("open_store(" << location << ") succeeded");
  return {};
}

// Rolls a current file back to schema 3 (before durable runs).
// What each later step adds, undone: a file rolled back to schema N drops steps N+1 and up.
constexpr const char* k_drop_schema_5 =
    "ALTER TABLE runs DROP COLUMN resumable; ALTER TABLE runs DROP COLUMN attempts; "
    "ALTER TABLE runs DROP COLUMN fence; ALTER TABLE runs DROP COLUMN checkpoint; ";
// Schema 8 (MCP OAuth credentials), undone for the tests that start from an older file.
constexpr const char* k_drop_schema_8 = "DROP TABLE connection_credentials; ";
constexpr const char* k_drop_schema_4 = "DROP TABLE schedule_fires; DROP TABLE dispatches; ";
// Schema 6 undone: schedule_fires as step 4 made it, dispatches without the new columns.
constexpr const char* k_drop_schema_6 =
    "DROP TABLE schedule_fires; CREATE TABLE schedule_fires (schedule TEXT NOT NULL, "
    "scheduled_ms INTEGER NOT NULL, trigger TEXT NOT NULL, session_id TEXT NOT NULL, "
    "status TEXT NOT NULL, fired_ms INTEGER NOT NULL, ended_ms INTEGER, "
    "UNIQUE (schedule, scheduled_ms)); "
    "ALTER TABLE dispatches DROP COLUMN context; ALTER TABLE dispatches DROP COLUMN receipt; "
    "ALTER TABLE dispatches DROP COLUMN outcome; ";

} // namespace

TEST_SUITE("store") {

TEST_CASE("a new file is created with its directories, migrated, and in WAL mode") {
  TempProject tmp;
  auto store = open_store("sqlite:.hearth/state.db", tmp.root());
  const auto file = tmp.root() / ".hearth" / "state.db";
  CHECK(std::filesystem::exists(file));
  CHECK(store->location() == "sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  CHECK(raw_int(file, "PRAGMA application_id") == 0x68727468);
  CHECK(raw_int(file, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);
}

TEST_CASE("?synchronous=full on a location selects FULL and keeps the file where the path says") {
  TempProject tmp;
  {
    auto store = open_store("sqlite:.hearth/state.db?synchronous=full", tmp.root());
    const auto file = tmp.root() / ".hearth" / "state.db";
    CHECK(std::filesystem::exists(file));
    CHECK(store->location() == "sqlite:" + file.string() + "?synchronous=full");
    store->create_stream("runs/r");
    CHECK(store->append("runs/r", {.type = "log"}) == 0);
  }
  auto normal = open_store("sqlite:.hearth/state.db?synchronous=normal", tmp.root());
  CHECK(normal->location() == "sqlite:" + (tmp.root() / ".hearth" / "state.db").string());
  CHECK(normal->read("runs/r", -1).events.size() == 1);
  CHECK(open_error("sqlite:x.db?synchronous=off").type == "store_location_invalid");
  CHECK(open_error("sqlite:x.db?cache=shared").type == "store_location_invalid");
}

TEST_CASE("data survives closing and reopening the file") {
  TempProject tmp;
  const auto location = "sqlite:" + (tmp.root() / "state.db").string();
  {
    auto store = open_store(location);
    store->create_run({.run_id = "run_keep", .workflow = "w"});
    store->append("runs/run_keep", {.type = "log"});
  }
  auto store = open_store(location);
  CHECK(store->get_run("run_keep").has_value());
  CHECK(store->read("runs/run_keep", -1).events.size() == 1);
}

TEST_CASE("a schema-1 database is migrated to record invokers and keeps its runs") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  {
    auto store = open_store("sqlite:" + file.string());
    store->create_run({.run_id = "run_old", .workflow = "w"});
  }
  // Roll the file back to what schema 1 looked like (before invokers).
  raw_exec(file, std::string(k_drop_schema_8) + std::string(k_drop_schema_5) + k_drop_schema_4 +
                     "ALTER TABLE runs DROP COLUMN invoker; ALTER TABLE sessions DROP COLUMN invoker; "
                     "ALTER TABLE sessions DROP COLUMN parked; DROP TABLE approvals; "
                     "PRAGMA user_version = 1");
  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  CHECK(store->get_run("run_old")->invoker.is_null());
  const nlohmann::json invoker = {{"id", "ci"}, {"kind", "service"}};
  store->create_run({.run_id = "run_new", .workflow = "w", .invoker = invoker});
  CHECK(store->get_run("run_new")->invoker == invoker);
  CHECK(to_json(*store->get_run("run_new"))["invoker"] == invoker);
  CHECK_FALSE(to_json(*store->get_run("run_old")).contains("invoker"));
}

TEST_CASE("a schema-2 database is migrated to park sessions and keep approvals") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  const SessionKey key{.agent = "a", .instance_id = "i"};
  {
    auto store = open_store("sqlite:" + file.string());
    store->save_session(key, nlohmann::json::array({1}), 0);
  }
  raw_exec(file, std::string(k_drop_schema_8) + std::string(k_drop_schema_5) + k_drop_schema_4 +
                     "ALTER TABLE sessions DROP COLUMN parked; DROP TABLE approvals; "
                     "PRAGMA user_version = 2");
  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  CHECK(store->load_session(key)->messages == nlohmann::json::array({1}));
  CHECK(store->load_session(key)->parked.is_null());
  store->create_approval({.approval_id = "apr_1", .owner = "agents/a/i", .tool_name = "t"});
  CHECK(store->get_approval("apr_1")->status == "pending");
}

TEST_CASE("a schema-3 database is migrated to record schedule fires and dispatches") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  {
    auto store = open_store("sqlite:" + file.string());
    store->create_approval({.approval_id = "apr_1", .owner = "agents/a/i", .tool_name = "t"});
  }
  raw_exec(file, std::string(k_drop_schema_8) + std::string(k_drop_schema_6) + k_drop_schema_5 + k_drop_schema_4 +
                     "PRAGMA user_version = 3");
  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  CHECK(store->get_approval("apr_1")->status == "pending");
  CHECK(store->claim_fire({.schedule = "s", .scheduled_ms = 60000, .session_id = "x"}));
  CHECK_FALSE(store->claim_fire({.schedule = "s", .scheduled_ms = 60000, .session_id = "y"}));
  CHECK(store->admit_dispatch({.agent = "a", .instance_id = "i", .source = "test"}).record.seq > 0);
}

TEST_CASE("a schema-4 database is migrated to durable runs; its runs stay as they were") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  {
    auto store = open_store("sqlite:" + file.string());
    store->create_run({.run_id = "run_old", .workflow = "w"});
  }
  raw_exec(file, std::string(k_drop_schema_8) + std::string(k_drop_schema_6) + k_drop_schema_5 + "PRAGMA user_version = 4");
  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  const auto old = store->get_run("run_old");
  REQUIRE(old.has_value());
  CHECK_FALSE(old->resumable); // an old run is never taken over: it ends runtime_crashed
  CHECK(old->attempts == 1);
  CHECK(old->fence == 0);
  CHECK(store->run_checkpoint("run_old").is_null());
  CHECK(store->checkpoint_run("run_old", 0, {{"step", 1}}));
  CHECK(store->run_checkpoint("run_old")["step"] == 1);
}

TEST_CASE("a schema-5 database keeps its fires; a fire left running is interrupted at recovery") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  { auto store = open_store("sqlite:" + file.string()); }
  raw_exec(file, std::string(k_drop_schema_8) + std::string(k_drop_schema_6) +
                     "INSERT INTO schedule_fires VALUES ('s', 60000, 'cron', 'x', 'running', 1, NULL); "
                     "INSERT INTO schedule_fires VALUES ('s', 120000, 'cron', 'y', 'done', 2, 3); "
                     "PRAGMA user_version = 5");
  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  CHECK(store->list_fires("s", 10).size() == 2);
  CHECK_FALSE(store->claim_fire({.schedule = "s", .scheduled_ms = 60000, .session_id = "z"}));
  const auto interrupted = store->recover_fires(); // no owner recorded: nobody runs it
  REQUIRE(interrupted.size() == 1);
  CHECK(interrupted[0].session_id == "x");
  CHECK(store->admit_dispatch({.agent = "a", .instance_id = "i", .source = "t"}).record.outcome.is_null());
}

TEST_CASE("a schema-8 database gets its status CHECKs as comparisons; rows and the checks stay") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  {
    auto store = open_store("sqlite:" + file.string());
    store->create_run({.run_id = "run_old", .workflow = "w"});
  }
  const std::string update_run =
      "UPDATE runs SET status = 'completed', result = '1', error = NULL, ended_ms = 2 "
      "WHERE run_id = 'run_old'";
  CHECK(opcodes(file, update_run).find("OpenEphemeral") == std::string::npos);
  // Schema 8's definitions, as steps 1 to 6 wrote them (a fresh connection reads them anew).
  raw_exec(file, "PRAGMA writable_schema = ON; "
                 "UPDATE sqlite_master SET sql = replace(sql, 'CHECK (status = ''active'' OR "
                 "status = ''completed'' OR status = ''errored'')', 'CHECK (status IN (''active'', "
                 "''completed'', ''errored''))') WHERE name = 'runs'; "
                 "UPDATE sqlite_master SET sql = replace(replace(sql, 'CHECK (trigger = ''cron'' OR "
                 "trigger = ''catch-up'' OR trigger = ''manual'')', 'CHECK (trigger IN (''cron'', "
                 "''catch-up'', ''manual''))'), 'CHECK (status = ''queued'' OR status = ''running'' "
                 "OR status = ''done'' OR status = ''errored'' OR status = ''skipped'' OR status = "
                 "''interrupted'')', 'CHECK (status IN (''queued'', ''running'', ''done'', "
                 "''errored'', ''skipped'', ''interrupted''))') WHERE name = 'schedule_fires'; "
                 "PRAGMA writable_schema = OFF; PRAGMA user_version = 8");
  CHECK(raw_text(file, "SELECT sql FROM sqlite_master WHERE name = 'runs'")
            .find("CHECK (status IN ('active', 'completed', 'errored'))") != std::string::npos);
  CHECK(opcodes(file, update_run).find("OpenEphemeral") != std::string::npos); // what step 9 is for

  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  const auto tables = raw_text(file, "SELECT sql FROM sqlite_master WHERE type = 'table'");
  CHECK(tables.find(" IN (") == std::string::npos);
  CHECK(tables.find("CHECK (status = 'active' OR status = 'completed' OR status = 'errored')") !=
        std::string::npos);
  CHECK(tables.find("CHECK (trigger = 'cron' OR trigger = 'catch-up' OR trigger = 'manual')") !=
        std::string::npos);
  CHECK(raw_text(file, "PRAGMA integrity_check") == "ok\n");
  CHECK(opcodes(file, update_run).find("OpenEphemeral") == std::string::npos);
  CHECK(opcodes(file, "INSERT INTO schedule_fires (fire_id, schedule, scheduled_ms, trigger, "
                      "session_id, status, fired_ms) VALUES ('f', 's', 1, 'cron', 'x', 'queued', 1)")
            .find("OpenEphemeral") == std::string::npos);
  REQUIRE(store->get_run("run_old").has_value());
  // The constraints still hold: an unknown status or trigger is refused.
  CHECK(raw_rc(file, "UPDATE runs SET status = 'bogus' WHERE run_id = 'run_old'") ==
        SQLITE_CONSTRAINT);
  CHECK(raw_rc(file, "INSERT INTO schedule_fires (fire_id, schedule, scheduled_ms, trigger, "
                     "session_id, status, fired_ms) VALUES ('f', 's', 1, 'hourly', 'x', 'queued', 1)") ==
        SQLITE_CONSTRAINT);
  CHECK(raw_rc(file, "UPDATE runs SET status = 'completed' WHERE run_id = 'run_old'") == SQLITE_OK);
  CHECK(store->get_run("run_old")->status == RunStatus::completed);
}

TEST_CASE("memory stores are private to each Store") {
  auto a = open_store("memory:");
  auto b = open_store(":memory:");
  CHECK(a->location() == "memory:");
  a->create_stream("x");
  CHECK_FALSE(b->stream_info("x").has_value());
}

TEST_CASE("unsupported locations are refused with the accepted forms") {
  for (const char* bad : {"mysql://localhost/db", "sqlite:", "redis:x"}) {
    CAPTURE(bad);
    const auto info = open_error(bad);
    CHECK(info.type == "store_location_invalid");
    CHECK(info.details.find("sqlite:<path>") != std::string::npos);
  }
}

TEST_CASE("a schema-7 database gets the connection credentials table (MCP OAuth)") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  { auto store = open_store("sqlite:" + file.string()); }
  raw_exec(file, std::string(k_drop_schema_8) + "PRAGMA user_version = 7");
  auto store = open_store("sqlite:" + file.string());
  CHECK(raw_int(file, "PRAGMA user_version") == schema_version());
  store->put_credential("k", "v1:x");
  CHECK(store->get_credential("k") == std::optional<std::string>("v1:x"));
}

TEST_CASE("a database written by a newer hearth is refused, naming the file and versions") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  open_store("sqlite:" + file.string()); // a real hearth database ...
  raw_exec(file, "PRAGMA user_version = 99");  // ... that a future hearth migrated
  const auto info = open_error("sqlite:" + file.string());
  CHECK(info.type == "store_schema_too_new");
  CHECK(info.message == "The state database " + file.string() + " has schema version 99, but " +
                            "this hearth supports up to version " +
                            std::to_string(schema_version()) + ".");
  CHECK(raw_int(file, "PRAGMA user_version") == 99); // untouched
}

TEST_CASE("another program's SQLite database is refused, not written into") {
  TempProject tmp;
  const auto file = tmp.root() / "other.db";
  raw_exec(file, "CREATE TABLE notes (body TEXT)");
  const auto info = open_error("sqlite:" + file.string());
  CHECK(info.type == "store_corrupt");
  CHECK(info.message.find(file.string()) != std::string::npos);
  CHECK(raw_int(file, "SELECT count(*) FROM sqlite_master") == 1);
}

TEST_CASE("a corrupted file gives a clear error, not a crash") {
  TempProject tmp;
  SUBCASE("garbage bytes") {
    tmp.write("state.db", std::string(8192, 'x'));
  }
  SUBCASE("a truncated database") {
    const auto good = tmp.root() / "good.db";
    {
      auto store = open_store("sqlite:" + good.string());
      store->create_stream("s");
    }
    raw_exec(good, "PRAGMA wal_checkpoint(TRUNCATE)");
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() > 100);
    // A valid header whose page count points past the end, with the rest overwritten.
    bytes.resize(100);
    bytes += std::string(4000, '\x5a');
    tmp.write("state.db", bytes);
  }
  const auto file = tmp.root() / "state.db";
  const auto info = open_error("sqlite:" + file.string());
  CHECK(info.type == "store_corrupt");
  CHECK(info.message.find(file.string()) != std::string::npos);
  CHECK_FALSE(info.details.empty());
}

TEST_CASE("sustained appends keep the WAL file bounded") {
  TempProject tmp;
  const auto file = tmp.root() / "state.db";
  auto store = open_store("sqlite:" + file.string());
  store->create_stream("s");
  // About 10 KB of WAL per commit: 50 MB if nothing ever checkpointed. The writer finishes a
  // checkpoint itself at 4000 pages (16 MB) when the background one cannot keep up.
  for (int i = 0; i < 5000; ++i) store->append("s", {.type = "log", .data = {{"i", i}}});
  CHECK(std::filesystem::file_size(tmp.root() / "state.db-wal") < 20 * 1024 * 1024);
  CHECK(store->read("s", 4998).events.size() == 1);
}

TEST_CASE("an unwritable location gives store_unavailable") {
  TempProject tmp;
  tmp.write("file", "not a directory");
  const auto info = open_error("sqlite:" + (tmp.root() / "file" / "state.db").string());
  CHECK(info.type == "store_unavailable");
}

} // TEST_SUITE

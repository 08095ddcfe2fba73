// PostgreSQL-only store tests (the shared contract is in the other *_test.cpp files): the
// schema version table, leases that expire, notifications across Store objects, retries after
// a lost connection. They need HEARTH_TEST_PG_URL (scripts/with-postgres.sh) and skip without.
#include "contract.hpp"

#include "core/error.hpp"
#include "store/pg.hpp"
#include "support/child_task.hpp"

#include <chrono>
#include <future>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace hearth::store;
namespace pg = hearth::store::pg;
using namespace std::chrono_literals;

namespace {

hearth::ErrorInfo open_error(const std::string& location) {
  try {
    open_store(location);
  } catch (const hearth::Error& e) {
    return e.info();
  }
  FAIL("open_store(" << location << ") succeeded");
  return {};
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : m_name(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(m_name); }
  const char* m_name;
};

// The catalogue error `fn` throws, or an empty type when it throws none.
template <class F>
hearth::ErrorInfo error_of(F&& fn) {
  try {
    fn();
  } catch (const hearth::Error& e) {
    return e.info();
  }
  return {};
}

// A session of the test's own holding locks (BEGIN ... without COMMIT) until it is released.
struct Blocker {
  explicit Blocker(const std::string& url) {
    std::string error;
    conn = store_contract::pg_connect(url, error);
    REQUIRE_MESSAGE(conn != nullptr, error);
  }
  ~Blocker() {
    if (conn) PQfinish(conn); // ends the transaction: its locks go
  }
  void exec(const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(r);
    const std::string error = PQresultErrorMessage(r);
    PQclear(r);
    REQUIRE_MESSAGE((status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK), error);
  }
  void release() {
    PQfinish(conn);
    conn = nullptr;
  }
  PGconn* conn = nullptr;
};

// Waits for `future` at most `limit`; if it is still running then, `unblock` lets it finish
// (so the case fails instead of hanging the run) and the result is false.
template <class T>
bool finished_within(std::future<T>& future, std::chrono::seconds limit, Blocker& unblock) {
  if (future.wait_for(limit) == std::future_status::ready) return true;
  unblock.release();
  future.wait();
  return false;
}

} // namespace

// A replica that records resumable run args[1] in store args[0] and dies (kill -9: the task
// runs no destructor, so its lease is not handed back).
HEARTH_CHILD_TASK(record_resumable_run) {
  auto store = open_store(args.at(0));
  store->create_run({.run_id = args.at(1), .workflow = "w", .resumable = true});
  ::_exit(0); // before `store`'s destructor, which would hand the lease back
}

TEST_SUITE("store") {

TEST_CASE("postgres: locations are recognised and a password never shows") {
  CHECK(is_postgres_location("postgres://u@h/db"));
  CHECK(is_postgres_location("postgresql://u@h/db"));
  CHECK_FALSE(is_postgres_location("sqlite:x.db"));
  CHECK_FALSE(is_postgres_location("memory:"));
  // Nothing listens on port 1: the open fails as store_unavailable, without the password.
  const auto info = open_error("postgresql://user:s3cret@127.0.0.1:1/db?connect_timeout=1");
  CHECK(info.type == "store_unavailable");
  CHECK(info.message.find("s3cret") == std::string::npos);
  CHECK(info.message.find("postgresql://user:***@127.0.0.1:1/db") != std::string::npos);
  // A password in the query string, and libpq quoting a malformed URI, never show either.
  const auto query = open_error("postgresql://127.0.0.1:1/db?password=qu3ry&connect_timeout=1");
  CHECK(query.message.find("qu3ry") == std::string::npos);
  CHECK(query.message.find("password=***") != std::string::npos);
  const auto malformed = open_error("postgresql://user:s3cret@127.0.0.1:1/db?%zz=1");
  CHECK(malformed.message.find("s3cret") == std::string::npos);
}

TEST_CASE("postgres: the schema version table is written once and a newer one is refused") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  {
    auto a = db.open();
    auto b = db.open(); // a second replica: already migrated, nothing to do
    CHECK(a->location().rfind("postgresql://", 0) == 0);
  }
  store_contract::pg_exec(db.url(), "UPDATE hearth_schema SET version = 99");
  const auto info = open_error(db.url());
  CHECK(info.type == "store_schema_too_new");
  CHECK(info.message.find("99") != std::string::npos);
}

TEST_CASE("postgres: tables of another application are not written into") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  store_contract::pg_exec(db.url(), "CREATE TABLE runs (id INTEGER)");
  const auto info = open_error(db.url());
  CHECK(info.type == "store_corrupt");
  CHECK(info.message.find("tables hearth did not create") != std::string::npos);
}

TEST_CASE("postgres: concurrent first opens migrate once") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  std::vector<std::thread> openers;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i)
    openers.emplace_back([&] {
      try {
        open_store(db.url());
        ++opened;
      } catch (...) {
      }
    });
  for (auto& t : openers) t.join();
  CHECK(opened == 4);
}

TEST_CASE("postgres: a replica whose lease expired loses its resumable runs to another") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  ScopedEnv lease("HEARTH_LEASE_MS", "3000");
  // A replica on "another host" records a run and dies without a word (kill -9): no pid check
  // can tell, only its lease.
  // No destructor runs in the child task: its lease is not handed back.
  const auto recorded = std::chrono::steady_clock::now();
  REQUIRE(child_task::run("record_resumable_run", {db.url(), "run_l"},
                          {{"HEARTH_HOST_ID", "another-host"}}) == 0);
  auto other = db.open();
  const bool early = std::chrono::steady_clock::now() - recorded < 2500ms; // not on a slow box
  if (early) CHECK(other->abandoned_runs().empty()); // its lease (3 s) has not expired yet
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::vector<AbandonedRun> abandoned;
  while (abandoned.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    abandoned = other->abandoned_runs();
  }
  REQUIRE(abandoned.size() == 1);
  CHECK(abandoned[0].run_id == "run_l");
  const auto taken = other->take_over_run("run_l", abandoned[0].fence);
  REQUIRE(taken.has_value());
  CHECK(taken->attempts == 2);
  // Now `other` renews it: past several lease lengths another replica still sees it owned.
  auto third = db.open();
  std::this_thread::sleep_for(4000ms);
  CHECK(third->abandoned_runs().empty());
}

TEST_CASE("postgres: a Store that closes hands its leases back at once") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  auto owner = db.open(); // the default lease: 15 s
  auto other = db.open();
  owner->create_run({.run_id = "run_h", .workflow = "w", .resumable = true});
  CHECK(other->abandoned_runs().empty());
  owner.reset(); // a drained `hearth start` exiting
  const auto abandoned = other->abandoned_runs();
  REQUIRE(abandoned.size() == 1);
  CHECK(abandoned[0].run_id == "run_h");
}

TEST_CASE("postgres: a dispatch whose owner's lease expired is taken again") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  ScopedEnv lease("HEARTH_LEASE_MS", "600");
  auto owner = db.open();
  auto other = db.open();
  const auto d = owner->admit_dispatch({.agent = "x", .instance_id = "i", .input = 1}).record;
  CHECK(owner->take_dispatch(d.dispatch_id));
  CHECK_FALSE(other->take_dispatch(d.dispatch_id));
  owner.reset();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  bool taken = false;
  while (!taken && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    taken = other->take_dispatch(d.dispatch_id);
  }
  CHECK(taken);
}

TEST_CASE("postgres: a watcher on one Store wakes on another Store's append (LISTEN/NOTIFY)") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  auto writer = db.open();
  auto reader = db.open();
  writer->create_stream("runs/run_n");
  std::atomic<int> woke{0};
  auto handle = reader->watch_events("runs/run_n", -1, [&] { ++woke; });
  CHECK(woke == 0);
  const auto start = std::chrono::steady_clock::now();
  writer->append("runs/run_n", {.type = "log", .data = {{"n", 1}}});
  while (woke == 0 && std::chrono::steady_clock::now() - start < 5s)
    std::this_thread::sleep_for(1ms);
  CHECK(woke == 1);
  // Pushed, not polled: well under the SQLite poller's interval on an idle machine.
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("postgres: reads survive the server dropping their connections") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  // A name of its own, so only this store's connections are dropped (other tests may share
  // the server).
  const auto name = "hearth_" + db.schema;
  auto store = open_store(db.url() + "&application_name=" + name);
  store->create_run({.run_id = "run_r", .workflow = "w"});
  // Terminate the store's connections: the pool's and the listener's.
  store_contract::pg_exec(store_contract::pg_url(),
                          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = '" + name + "'");
  const auto run = store->get_run("run_r"); // retried on a fresh connection
  REQUIRE(run.has_value());
  CHECK(run->workflow == "w");
  // The listener reconnects too: a second store's append still wakes a waiter here.
  auto writer = db.open();
  std::atomic<bool> woke{false};
  std::thread waiter([&] {
    woke = store->wait_for_events("runs/run_r", -1, std::chrono::steady_clock::now() + 10s);
  });
  std::this_thread::sleep_for(100ms);
  writer->append("runs/run_r", {.type = "log"});
  waiter.join();
  CHECK(woke);
}

TEST_CASE("postgres: a write right after the server dropped every connection succeeds") {
  // A pooled connection whose backend is gone is noticed when it leaves the pool, so even a
  // non-retryable statement (an append) goes to a fresh connection.
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  const auto name = "hearth_w_" + db.schema;
  auto store = open_store(db.url() + "&application_name=" + name);
  store->create_run({.run_id = "run_w", .workflow = "w"});
  store_contract::pg_exec(store_contract::pg_url(),
                          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = '" + name + "'");
  std::this_thread::sleep_for(100ms); // the terminations reach the sockets
  CHECK_NOTHROW(store->append("runs/run_w", {.type = "log"}));
  CHECK(store->read("runs/run_w", -1, 10).events.size() >= 1);
}

TEST_CASE("postgres: text with a NUL byte is refused, never cut short") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  auto store = db.open();
  const auto info = [&] {
    try {
      store->create_run({.run_id = std::string("run_a\0b", 7), .workflow = "w"});
    } catch (const hearth::Error& e) {
      return e.info();
    }
    return hearth::ErrorInfo{};
  }();
  CHECK(info.http_status == 400);
  CHECK_FALSE(store->get_run("run_a").has_value());
}

// --- review of issue 15: leases only for what executes, fences, bounds ---------------------

TEST_CASE("postgres: a row this process owns but does not execute expires and is taken over") {
  // A take whose COMMIT landed but whose answer was lost: the row says "ours", nobody here
  // executes it. The heartbeat must not keep it alive.
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  ScopedEnv lease("HEARTH_LEASE_MS", "1500");
  auto owner = db.open();
  auto other = db.open();
  owner->create_run({.run_id = "run_live", .workflow = "w", .resumable = true});
  const auto d = owner->admit_dispatch({.agent = "x", .instance_id = "i", .input = 1}).record;
  store_contract::pg_exec(
      db.url(),
      "INSERT INTO runs (run_id, workflow, status, payload, started_ms, owner_pid, owner_start, "
      "resumable, owner_id, owner_host, lease_ms) SELECT 'run_lost', workflow, 'active', payload, "
      "started_ms, owner_pid, owner_start, true, owner_id, owner_host, lease_ms FROM runs "
      "WHERE run_id = 'run_live'; "
      "INSERT INTO streams (path, created_ms) VALUES ('runs/run_lost', 0); "
      "UPDATE dispatches SET status = 'running', (owner_pid, owner_start, owner_host, owner_id, "
      "lease_ms) = (SELECT owner_pid, owner_start, owner_host, owner_id, lease_ms FROM runs "
      "WHERE run_id = 'run_live') WHERE dispatch_id = '" + d.dispatch_id + "'");
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  bool run_free = false, dispatch_taken = false;
  while (!(run_free && dispatch_taken) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    if (!run_free)
      for (const auto& a : other->abandoned_runs()) run_free = run_free || a.run_id == "run_lost";
    dispatch_taken = dispatch_taken || other->take_dispatch(d.dispatch_id);
  }
  CHECK(run_free);
  CHECK(dispatch_taken);
  // Its owner sees its own unexecuted row as abandoned too (a single replica recovers it);
  // the run it does execute stays renewed.
  bool own_sees = false, live_listed = false;
  for (const auto& a : owner->abandoned_runs()) {
    own_sees = own_sees || a.run_id == "run_lost";
    live_listed = live_listed || a.run_id == "run_live";
  }
  CHECK(own_sees);
  CHECK_FALSE(live_listed);
  for (const auto& a : other->abandoned_runs()) CHECK(a.run_id != "run_live");
}

TEST_CASE("postgres: appends of an owner whose run was taken over are refused (fencing)") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  auto stale = db.open(); // a replica that missed its beats but is still alive
  auto fresh = db.open();
  stale->create_run({.run_id = "run_f", .workflow = "w", .resumable = true});
  stale->append("runs/run_f", {.type = "log", .data = {{"n", 1}}});
  const auto taken = fresh->take_over_run("run_f", 0);
  REQUIRE(taken.has_value());
  CHECK(taken->fence == 1);
  // The stale owner's writes change nothing and say why.
  CHECK(error_of([&] { stale->append("runs/run_f", {.type = "log", .data = {{"n", 2}}}); }).type ==
        "run_taken_over");
  CHECK(error_of([&] {
          stale->append_batch("runs/run_f", {{.type = "log"}, {.type = "log"}}, true);
        }).type == "run_taken_over");
  CHECK_FALSE(stale->checkpoint_run("run_f", 0, {{"step", 1}}));
  CHECK_FALSE(stale->end_run({.run_id = "run_f", .status = RunStatus::completed, .result = 1}));
  CHECK_FALSE(stale->checkpoint_run_after("run_f", 0, {{.type = "log"}}, {{"step", 1}}));
  CHECK_FALSE(stale->end_run_after(
      {.run_id = "run_f", .status = RunStatus::completed, .result = 1, .fence = 0},
      {{.type = "log"}})); // end_run above let go of the fence it held: say which
  // The new owner writes on.
  fresh->append("runs/run_f", {.type = "run_resume"});
  CHECK(fresh->end_run(
      {.run_id = "run_f", .status = RunStatus::completed, .result = 2, .fence = 1}));
  const auto page = fresh->read("runs/run_f", -1, 100);
  REQUIRE(page.events.size() == 3);
  CHECK(page.events[0].data["n"] == 1);
  CHECK(page.events[1].type == "run_resume");
  CHECK(page.events[2].type == "run_end");
  CHECK(fresh->get_run("run_f")->result == 2);
}

TEST_CASE("postgres: a statement waiting on a lock gives up within the lock timeout") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  auto store = db.open();
  store->create_run({.run_id = "run_t", .workflow = "w"});
  Blocker blocker(db.url());
  blocker.exec("BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE");
  const auto start = std::chrono::steady_clock::now();
  auto read = std::async(std::launch::async, [&] { return error_of([&] { store->get_run("run_t"); }); });
  REQUIRE_MESSAGE(finished_within(read, 20s, blocker), "a store read waited on a lock for 20 s");
  const auto info = read.get();
  CHECK(info.type == "store_unavailable");
  CHECK(info.dev.find("55P03") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
  blocker.release();
  CHECK(store->get_run("run_t").has_value()); // the pool goes on
}

TEST_CASE("postgres: the pool's wait is bounded and a nested store call fails at once") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  pg::Pool pool(db.url(), "test-pool", 300ms);
  std::promise<void> release;
  const auto released = release.get_future().share();
  std::atomic<int> holding{0};
  std::vector<std::thread> holders;
  for (std::size_t i = 0; i < pg::Pool::k_max; ++i)
    holders.emplace_back([&] {
      pool.run("hold", true, [&](pg::Connection&) {
        ++holding;
        released.wait_for(20s);
      });
    });
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (holding < static_cast<int>(pg::Pool::k_max) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  REQUIRE(holding == static_cast<int>(pg::Pool::k_max));
  const auto start = std::chrono::steady_clock::now();
  auto ninth = std::async(std::launch::async, [&] {
    return error_of([&] { pool.run("read", true, [](pg::Connection& c) { c.exec("SELECT 1"); }); });
  });
  const bool bounded = ninth.wait_for(5s) == std::future_status::ready;
  release.set_value();
  for (auto& t : holders) t.join();
  REQUIRE_MESSAGE(bounded, "a caller waited for a pooled connection for 5 s");
  const auto info = ninth.get();
  CHECK(info.type == "store_unavailable");
  CHECK(info.dev.find("exhausted") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  // A store call inside another's unit of work would wait for a second connection: refused.
  const auto nested = error_of([&] {
    pool.run("outer", true, [&](pg::Connection&) {
      pool.run("inner", true, [](pg::Connection& c) { c.exec("SELECT 1"); });
    });
  });
  CHECK(nested.type == "store_unavailable");
  CHECK(nested.dev.find("nested") != std::string::npos);
  CHECK_NOTHROW(pool.run("after", true, [](pg::Connection& c) { c.exec("SELECT 1"); }));
}

TEST_CASE("postgres: a migration blocked by a long transaction fails clearly, then succeeds") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  { auto first = db.open(); }
  // Back to schema 6, as an older hearth left it.
  store_contract::pg_exec(db.url(), "DROP TABLE connection_credentials; DROP INDEX schedule_fires_owned; "
                                    "ALTER TABLE streams DROP COLUMN fence; "
                                    "ALTER TABLE schedule_fires DROP COLUMN owner_id, "
                                    "DROP COLUMN lease_ms; UPDATE hearth_schema SET version = 6");
  Blocker reader(db.url()); // an old replica's long transaction reading streams
  reader.exec("BEGIN; SELECT count(*) FROM streams");
  const auto start = std::chrono::steady_clock::now();
  auto open = std::async(std::launch::async, [&] { return error_of([&] { db.open(); }); });
  REQUIRE_MESSAGE(finished_within(open, 30s, reader), "the migration waited on a lock for 30 s");
  const auto info = open.get();
  CHECK(info.type == "store_unavailable");
  CHECK(info.dev.find("could not lock its tables") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  reader.release();
  auto store = db.open(); // nothing was half done: the migration runs now
  store->create_run({.run_id = "run_m", .workflow = "w"});
  CHECK(store->get_run("run_m").has_value());
}

TEST_CASE("postgres: a runs table elsewhere on the search_path is not mistaken for hearth's") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  const auto elsewhere = db.schema + "_app";
  store_contract::pg_exec(store_contract::pg_url(), "CREATE SCHEMA " + elsewhere +
                                                        "; CREATE TABLE " + elsewhere +
                                                        ".runs (id INTEGER)");
  struct Drop {
    std::string schema;
    ~Drop() {
      try {
        store_contract::pg_exec(store_contract::pg_url(), "DROP SCHEMA " + schema + " CASCADE");
      } catch (...) {
      }
    }
  } drop{elsewhere};
  const auto url = store_contract::with_schema(store_contract::pg_url(), db.schema + "%2C" + elsewhere);
  std::unique_ptr<Store> store;
  CHECK_NOTHROW(store = open_store(url));
  if (store) {
    store->create_run({.run_id = "run_s", .workflow = "w"});
    CHECK(store->get_run("run_s").has_value());
  }
}

TEST_CASE("postgres: the outcome of a dispatch another replica took over is refused") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  auto store = db.open();
  const auto a = store->admit_dispatch({.agent = "a", .instance_id = "i", .input = "hi"});
  REQUIRE(store->take_dispatch(a.record.dispatch_id));
  // Its lease expired while the turn ran and another replica took the row (stand-in: the owner
  // id moves to one this Store is not).
  store_contract::pg_exec(db.url(), "UPDATE dispatches SET owner_id = 'own_taker'");
  CHECK_FALSE(store->set_dispatch_status(a.record.dispatch_id, "done", Json{{"result", "late"}}));
  const auto row = store->get_dispatch(a.record.dispatch_id);
  REQUIRE(row.has_value());
  CHECK(row->status == "running");
  CHECK(row->outcome.is_null());
  CHECK_THROWS(store->set_dispatch_status("dsp_none", "done"));
  // The owner's own outcome is written.
  const auto b = store->admit_dispatch({.agent = "a", .instance_id = "j", .input = "hi"});
  REQUIRE(store->take_dispatch(b.record.dispatch_id));
  CHECK(store->set_dispatch_status(b.record.dispatch_id, "done", Json{{"result", "ok"}}));
  CHECK(store->get_dispatch(b.record.dispatch_id)->status == "done");
}

TEST_CASE("postgres: a dead host's fires are interrupted or taken once their lease expired") {
  if (!store_contract::Postgres::available()) return;
  store_contract::Postgres db;
  ScopedEnv lease("HEARTH_LEASE_MS", "1500");
  {
    ScopedEnv host("HEARTH_HOST_ID", "another-host");
    auto dead = db.open();
    REQUIRE(dead->claim_fire({.fire_id = "fire_run", .schedule = "s", .scheduled_ms = 60000,
                              .session_id = "a", .status = "running"}));
    REQUIRE(dead->claim_fire({.fire_id = "fire_q", .schedule = "s", .scheduled_ms = 120000,
                              .session_id = "b", .status = "queued"}));
    // Its process is gone (kill -9 on another machine): no heartbeat, no hand-back. Stand-in:
    // the rows belong to an owner id no live Store has.
    store_contract::pg_exec(db.url(), "UPDATE schedule_fires SET owner_id = 'own_gone'");
  }
  auto live = db.open();
  REQUIRE(live->claim_fire({.fire_id = "fire_mine", .schedule = "t", .scheduled_ms = 60000,
                            .session_id = "c", .status = "running"}));
  auto third = db.open();
  CHECK(third->recover_fires().empty()); // leases still running: another host's fires are alive
  CHECK(third->fire_running("s"));
  CHECK_FALSE(third->take_queued_fire("s").has_value());
  std::this_thread::sleep_for(2500ms); // past the dead host's lease; `live` renews its own
  CHECK_FALSE(third->fire_running("s")); // a dead host's fire no longer holds the schedule
  CHECK(third->fire_running("t"));
  const auto interrupted = third->recover_fires();
  REQUIRE(interrupted.size() == 1);
  CHECK(interrupted[0].fire_id == "fire_run");
  const auto taken = third->take_queued_fire("s");
  REQUIRE(taken.has_value());
  CHECK(taken->fire_id == "fire_q");
  for (const auto& f : third->list_fires("t", 10)) CHECK(f.status == "running");
}

} // TEST_SUITE

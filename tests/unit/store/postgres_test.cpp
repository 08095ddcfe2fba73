// PostgreSQL-only store tests (the shared contract is in the other *_test.cpp files): the
// schema version table, leases that expire, notifications across Store objects, retries after
// a lost connection. They need HEARTH_TEST_PG_URL (scripts/with-postgres.sh) and skip without.
#include "contract.hpp"

#include "core/error.hpp"
#include "support/child_task.hpp"

#include <chrono>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace hearth::store;
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

} // namespace

// A replica that records resumable run args[1] in store args[0] and dies (kill -9: the task
// runs no destructor, so its lease is not handed back).
HEARTH_CHILD_TASK(record_resumable_run) {
  open_store(args.at(0))->create_run({.run_id = args.at(1), .workflow = "w", .resumable = true});
  return 0;
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

} // TEST_SUITE

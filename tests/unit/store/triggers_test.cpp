// Contract tests for schedule fires and durable dispatch admission (store/triggers.cpp, issue 14).
#include "contract.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <sys/wait.h>
#include <unistd.h>

#include "core/error.hpp"
#include "support/child_task.hpp"

using namespace hearth::store;

// A server that takes dispatch args[1] of store args[0] and dies.
HEARTH_CHILD_TASK(take_dispatch) {
  return open_store(args.at(0))->take_dispatch(args.at(1)) ? 0 : 1;
}

// A server that records a running and a queued fire of schedule "s" in store args[0] and dies.
HEARTH_CHILD_TASK(claim_two_fires) {
  auto own = open_store(args.at(0));
  const bool ok = own->claim_fire({.fire_id = "fire_run", .schedule = "s", .scheduled_ms = 60000,
                                   .session_id = "a", .status = "running"}) &&
                  own->claim_fire({.fire_id = "fire_q", .schedule = "s", .scheduled_ms = 120000,
                                   .session_id = "b", .status = "queued"});
  return ok ? 0 : 1;
}

TEST_SUITE("store") {

STORE_CONTRACT("a schedule's cron time is claimed once, across Store objects sharing the file") {
  Backend backend;
  auto store = backend.open();
  CHECK(store->claim_fire({.fire_id = "fire_1", .schedule = "heartbeat", .scheduled_ms = 120000,
                           .session_id = "s1"}));
  CHECK_FALSE(store->claim_fire({.schedule = "heartbeat", .scheduled_ms = 120000, .session_id = "s2"}));
  CHECK(store->claim_fire({.schedule = "other", .scheduled_ms = 120000, .session_id = "s3"}));
  if constexpr (Backend::shared) { // a restarted process sees the claim
    auto again = backend.open();
    CHECK_FALSE(again->claim_fire({.schedule = "heartbeat", .scheduled_ms = 120000, .session_id = "s4"}));
  }
  store->set_fire_status("fire_1", "done");
  const auto fires = store->list_fires("heartbeat", 10);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].session_id == "s1");
  CHECK(fires[0].status == "done");
  CHECK_FALSE(fires[0].ended_at.empty());
  CHECK(store->list_fires("", 10).size() == 2);
}

STORE_CONTRACT("manual fires have their own key: never a cron time's slot, unique by fire id") {
  Backend backend;
  auto store = backend.open();
  // A manual fire asked at exactly a cron time's millisecond does not take that slot...
  CHECK(store->claim_fire({.fire_id = "fire_m1", .schedule = "s", .scheduled_ms = 60000,
                           .trigger = "manual", .session_id = "m1"}));
  CHECK(store->claim_fire({.fire_id = "fire_c1", .schedule = "s", .scheduled_ms = 60000,
                           .trigger = "cron", .session_id = "c1"}));
  // ...two manual fires at one millisecond are two fires, and a fire id is claimed once.
  CHECK(store->claim_fire({.fire_id = "fire_m2", .schedule = "s", .scheduled_ms = 60000,
                           .trigger = "manual", .session_id = "m2"}));
  CHECK_FALSE(store->claim_fire({.fire_id = "fire_m2", .schedule = "s", .scheduled_ms = 70000,
                                 .trigger = "manual", .session_id = "m3"}));
  CHECK_FALSE(store->claim_fire({.fire_id = "fire_c2", .schedule = "s", .scheduled_ms = 60000,
                                 .trigger = "catch-up", .session_id = "c2"}));
  CHECK(store->list_fires("s", 10).size() == 3);
}

STORE_CONTRACT("queued fires are taken once from the store, oldest first") {
  Backend backend;
  auto store = backend.open();
  CHECK_FALSE(store->take_queued_fire("q").has_value());
  store->claim_fire({.fire_id = "fire_a", .schedule = "q", .scheduled_ms = 60000, .session_id = "a",
                     .status = "queued"});
  store->claim_fire({.fire_id = "fire_b", .schedule = "q", .scheduled_ms = 120000, .session_id = "b",
                     .status = "queued"});
  const auto first = store->take_queued_fire("q");
  REQUIRE(first.has_value());
  CHECK(first->fire_id == "fire_a");
  CHECK(first->status == "running");
  CHECK(store->take_queued_fire("q")->fire_id == "fire_b");
  CHECK_FALSE(store->take_queued_fire("q").has_value());
  CHECK(store->recover_fires().empty()); // running, but owned by this live process
}

STORE_CONTRACT("fire_running: a schedule is busy while one of its fires runs, not when queued or ended") {
  Backend backend;
  auto store = backend.open();
  CHECK_FALSE(store->fire_running("s"));
  REQUIRE(store->claim_fire({.fire_id = "fire_q", .schedule = "s", .scheduled_ms = 60000,
                             .session_id = "a", .status = "queued"}));
  CHECK_FALSE(store->fire_running("s"));
  REQUIRE(store->claim_fire({.fire_id = "fire_r", .schedule = "s", .scheduled_ms = 120000,
                             .session_id = "b", .status = "running"}));
  CHECK(store->fire_running("s"));
  CHECK_FALSE(store->fire_running("t"));
  if constexpr (Backend::shared) { // another replica on the same store sees it too
    auto other = backend.open();
    CHECK(other->fire_running("s"));
    store->set_fire_status("fire_r", "done");
    CHECK_FALSE(other->fire_running("s"));
  }
  store->set_fire_status("fire_r", "done");
  CHECK_FALSE(store->fire_running("s"));
}

STORE_CONTRACT("the latest fire ignores manual fires") {
  Backend backend;
  auto store = backend.open();
  CHECK_FALSE(store->latest_fire("s").has_value());
  store->claim_fire({.schedule = "s", .scheduled_ms = 60000, .trigger = "cron", .session_id = "a"});
  store->claim_fire({.schedule = "s", .scheduled_ms = 999999, .trigger = "manual", .session_id = "b"});
  CHECK(store->latest_fire("s") == 60000);
}

STORE_CONTRACT("dispatch admission: a receipt, exact replays return it, conflicting replays are 409") {
  Backend backend;
  auto store = backend.open();
  const nlohmann::json input = {{"type", "github.issue_comment"}, {"body", "hi"}};
  const auto first = store->admit_dispatch(
      {.agent = "triage", .instance_id = "gh-1", .input = input, .idempotency_key = "d-1", .source = "http"});
  CHECK_FALSE(first.replayed);
  CHECK(first.record.dispatch_id.rfind("dsp_", 0) == 0);
  CHECK_FALSE(first.record.accepted_at.empty());
  CHECK(first.record.status == "queued");
  const auto replay = store->admit_dispatch(
      {.agent = "triage", .instance_id = "gh-1", .input = input, .idempotency_key = "d-1", .source = "http"});
  CHECK(replay.replayed);
  CHECK(replay.record.dispatch_id == first.record.dispatch_id);
  CHECK(replay.record.accepted_at == first.record.accepted_at);
  try {
    store->admit_dispatch({.agent = "triage", .instance_id = "gh-1", .input = {{"body", "other"}},
                           .idempotency_key = "d-1", .source = "http"});
    FAIL("a conflicting replay was admitted");
  } catch (const hearth::Error& e) {
    CHECK(e.info().type == "dispatch_conflict");
    CHECK(e.info().http_status == 409);
  }
  try { // same input, another instance: a conflict too
    store->admit_dispatch({.agent = "triage", .instance_id = "gh-2", .input = input,
                           .idempotency_key = "d-1", .source = "http"});
    FAIL("a conflicting replay was admitted");
  } catch (const hearth::Error& e) {
    CHECK(e.info().http_status == 409);
  }
  // Keys are per agent; no key never replays.
  CHECK_FALSE(store->admit_dispatch({.agent = "other", .instance_id = "gh-1", .input = input,
                                     .idempotency_key = "d-1", .source = "http"}).replayed);
  CHECK(store->admit_dispatch({.agent = "triage", .instance_id = "gh-1", .input = input}).record.dispatch_id !=
        store->admit_dispatch({.agent = "triage", .instance_id = "gh-1", .input = input}).record.dispatch_id);
}

STORE_CONTRACT("an instance's dispatches come out in admission order until finished") {
  Backend backend;
  auto store = backend.open();
  const auto a = store->admit_dispatch({.agent = "x", .instance_id = "i", .input = 1}).record;
  const auto b = store->admit_dispatch({.agent = "x", .instance_id = "i", .input = 2}).record;
  store->admit_dispatch({.agent = "x", .instance_id = "j", .input = 3});
  CHECK(store->next_dispatch("x", "i")->dispatch_id == a.dispatch_id);
  store->set_dispatch_status(a.dispatch_id, "running");
  CHECK(store->next_dispatch("x", "i")->dispatch_id == a.dispatch_id); // running: still first
  store->set_dispatch_status(a.dispatch_id, "done");
  CHECK(store->next_dispatch("x", "i")->dispatch_id == b.dispatch_id);
  CHECK(store->next_dispatch("x", "i")->input == 2);
  CHECK(store->unfinished_dispatches(10).size() == 2);
  store->set_dispatch_status(b.dispatch_id, "errored");
  CHECK_FALSE(store->next_dispatch("x", "i").has_value());
  CHECK(store->get_dispatch(b.dispatch_id)->status == "errored");
  CHECK_THROWS_AS(store->set_dispatch_status("dsp_nope", "done"), hearth::Error);
}

STORE_CONTRACT("take_dispatch: one taker per dispatch; a dead owner's running row is taken again") {
  if constexpr (!Backend::shared) return; // needs two Store objects on one database
  Backend backend;
  auto store = backend.open();
  const auto a = store->admit_dispatch({.agent = "x", .instance_id = "i", .input = 1}).record;
  const auto b = store->admit_dispatch({.agent = "x", .instance_id = "i", .input = 2}).record;
  CHECK(store->take_dispatch(a.dispatch_id));
  CHECK_FALSE(store->take_dispatch(a.dispatch_id)); // running in this (live) process
  CHECK(store->get_dispatch(a.dispatch_id)->status == "running");
  auto other = backend.open(); // a second server on the same database
  CHECK_FALSE(other->take_dispatch(a.dispatch_id));
  // A child process takes b and dies: its running row is taken again.
  REQUIRE(child_task::run("take_dispatch", {backend.location(), b.dispatch_id}) == 0);
  CHECK(store->get_dispatch(b.dispatch_id)->status == "running");
  CHECK(store->take_dispatch(b.dispatch_id));
  store->set_dispatch_status(a.dispatch_id, "done");
  CHECK_FALSE(store->take_dispatch(a.dispatch_id));
}

TEST_CASE("a dead process's fires: running ones are interrupted, queued ones are taken over") {
  store_contract::SqliteFile backend;
  auto store = backend.open();
  // A server that recorded two fires and was killed -9.
  REQUIRE(child_task::run("claim_two_fires", {backend.location()}) == 0);
  CHECK_FALSE(store->fire_running("s")); // its running fire died with it
  store->claim_fire({.fire_id = "fire_mine", .schedule = "s", .scheduled_ms = 180000,
                     .session_id = "c", .status = "running"});
  const auto interrupted = store->recover_fires();
  REQUIRE(interrupted.size() == 1);
  CHECK(interrupted[0].fire_id == "fire_run");
  const auto fires = store->list_fires("s", 10);
  for (const auto& f : fires) {
    if (f.fire_id == "fire_run") {
      CHECK(f.status == "interrupted");
      CHECK_FALSE(f.ended_at.empty());
    }
    if (f.fire_id == "fire_mine") CHECK(f.status == "running"); // ours: alive
  }
  const auto taken = store->take_queued_fire("s"); // the dead process's queue is ours now
  REQUIRE(taken.has_value());
  CHECK(taken->fire_id == "fire_q");
  CHECK(store->recover_fires().empty());
}

TEST_CASE("a fire recorded under our pid by an earlier process (pid reused) is not ours") {
  store_contract::SqliteFile backend;
  auto store = backend.open();
  store->claim_fire({.fire_id = "fire_old", .schedule = "s", .scheduled_ms = 60000,
                     .session_id = "a", .status = "running"});
  store->claim_fire({.fire_id = "fire_oldq", .schedule = "s", .scheduled_ms = 120000,
                     .session_id = "b", .status = "queued"});
  { // as if a process before us, with the same pid (a container's pid 1), had written them
    SQLite::Database db((backend.tmp.root() / "state.db").string(), SQLite::OPEN_READWRITE);
    db.exec("UPDATE schedule_fires SET owner_start = 'an earlier boot'");
  }
  const auto interrupted = store->recover_fires();
  REQUIRE(interrupted.size() == 1);
  CHECK(interrupted[0].fire_id == "fire_old");
  const auto taken = store->take_queued_fire("s");
  REQUIRE(taken.has_value());
  CHECK(taken->fire_id == "fire_oldq");
}

STORE_CONTRACT("a dispatch keeps its context, the first answer's extras and its outcome") {
  Backend backend;
  auto store = backend.open();
  const nlohmann::json extras = {{"streamUrl", "http://h/agents/a/i"}, {"offset", "0000000000000003"}};
  const auto first = store->admit_dispatch({.agent = "a", .instance_id = "i", .input = "hi",
                                            .idempotency_key = "k", .source = "http",
                                            .context = {{"tenant", "t1"}}, .receipt = extras});
  CHECK(first.record.receipt == extras);
  CHECK(first.record.context == nlohmann::json{{"tenant", "t1"}});
  // A replay (even with other extras: a later offset) gets the first answer's.
  const auto replay = store->admit_dispatch(
      {.agent = "a", .instance_id = "i", .input = "hi", .idempotency_key = "k", .source = "http",
       .context = {{"tenant", "t1"}}, .receipt = {{"offset", "0000000000000009"}}});
  CHECK(replay.replayed);
  CHECK(replay.record.receipt == extras);
  // Another context with the same key is another dispatch: a conflict.
  CHECK_THROWS_AS(store->admit_dispatch({.agent = "a", .instance_id = "i", .input = "hi",
                                         .idempotency_key = "k", .source = "http",
                                         .context = {{"tenant", "t2"}}}),
                  hearth::Error);
  store->set_dispatch_status(first.record.dispatch_id, "done", {{"result", {{"text", "ok"}}}});
  const auto done = store->get_dispatch(first.record.dispatch_id);
  CHECK(done->status == "done");
  CHECK(done->outcome["result"]["text"] == "ok");
}

} // TEST_SUITE

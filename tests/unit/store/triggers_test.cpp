// Contract tests for schedule fires and durable dispatch admission (store/triggers.cpp, issue 14).
#include "contract.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include "core/error.hpp"

using namespace hearth::store;

TEST_SUITE("store") {

STORE_CONTRACT("a schedule's cron time is claimed once, across Store objects sharing the file") {
  Backend backend;
  auto store = backend.open();
  CHECK(store->claim_fire({.schedule = "heartbeat", .scheduled_ms = 120000, .session_id = "s1"}));
  CHECK_FALSE(store->claim_fire({.schedule = "heartbeat", .scheduled_ms = 120000, .session_id = "s2"}));
  CHECK(store->claim_fire({.schedule = "other", .scheduled_ms = 120000, .session_id = "s3"}));
  if constexpr (Backend::shared) { // a restarted process sees the claim
    auto again = backend.open();
    CHECK_FALSE(again->claim_fire({.schedule = "heartbeat", .scheduled_ms = 120000, .session_id = "s4"}));
  }
  store->set_fire_status("heartbeat", 120000, "done");
  const auto fires = store->list_fires("heartbeat", 10);
  REQUIRE(fires.size() == 1);
  CHECK(fires[0].session_id == "s1");
  CHECK(fires[0].status == "done");
  CHECK_FALSE(fires[0].ended_at.empty());
  CHECK(store->list_fires("", 10).size() == 2);
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
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto own = backend.open();
    ::_exit(own->take_dispatch(b.dispatch_id) ? 0 : 1);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(store->get_dispatch(b.dispatch_id)->status == "running");
  CHECK(store->take_dispatch(b.dispatch_id));
  store->set_dispatch_status(a.dispatch_id, "done");
  CHECK_FALSE(store->take_dispatch(a.dispatch_id));
}

} // TEST_SUITE

// Contract tests for workflow runs: records, run_end, listing, crash recovery (store/runs.cpp).
#include "contract.hpp"

#include "core/error.hpp"

#include <sys/wait.h>
#include <unistd.h>

using namespace hearth::store;

namespace {

// The pid of a process that has exited and been reaped: nothing runs under it now.
int dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
  }
  return static_cast<int>(child);
}

} // namespace

TEST_SUITE("store") {

STORE_CONTRACT("create_run records an active run and its stream") {
  Backend backend;
  auto store = backend.open();
  const auto run = store->create_run(
      {.run_id = "run_01AAAAAAAAAAAAAAAAAAAAAAAA", .workflow = "hello", .payload = {{"name", "W"}}});
  CHECK(run.status == RunStatus::active);
  CHECK(run.workflow == "hello");
  CHECK(run.payload["name"] == "W");
  CHECK(run.started_at.size() == 24);
  CHECK(run.ended_at.empty());
  CHECK_FALSE(run.duration_ms.has_value());
  CHECK(run.owner_pid == static_cast<int>(::getpid()));
  CHECK(store->stream_info("runs/run_01AAAAAAAAAAAAAAAAAAAAAAAA").has_value());

  // Idempotent, first writer wins.
  const auto again = store->create_run(
      {.run_id = "run_01AAAAAAAAAAAAAAAAAAAAAAAA", .workflow = "other", .payload = {}});
  CHECK(again.workflow == "hello");
  CHECK_FALSE(store->get_run("run_nope").has_value());

  const auto j = to_json(run);
  CHECK(j["runId"] == run.run_id);
  CHECK(j["owner"]["workflowName"] == "hello");
  CHECK(j["status"] == "active");
  CHECK_FALSE(j.contains("endedAt"));
}

STORE_CONTRACT("end_run finalizes the record, appends run_end and closes the stream") {
  Backend backend;
  auto store = backend.open();
  store->create_run({.run_id = "run_1", .workflow = "calc", .payload = {{"a", 2}}});
  store->append("runs/run_1", {.type = "run_start", .data = {{"runId", "run_1"}}});
  CHECK(store->end_run({.run_id = "run_1", .status = RunStatus::completed, .result = 5}));
  CHECK_FALSE(store->end_run({.run_id = "run_1", .status = RunStatus::errored})); // already ended

  const auto run = store->get_run("run_1");
  REQUIRE(run.has_value());
  CHECK(run->status == RunStatus::completed);
  CHECK(run->result == 5);
  CHECK(run->error.is_null());
  CHECK(run->ended_at.size() == 24);
  REQUIRE(run->duration_ms.has_value());
  CHECK(*run->duration_ms >= 0);

  const auto page = store->read("runs/run_1", -1);
  REQUIRE(page.events.size() == 2);
  CHECK(page.events[1].type == "run_end");
  CHECK(page.events[1].data["isError"] == false);
  CHECK(page.events[1].data["result"] == 5);
  CHECK(page.events[1].data["durationMs"] == *run->duration_ms);
  CHECK(page.closed);

  const auto j = to_json(*run);
  CHECK(j["isError"] == false);
  CHECK(j["result"] == 5);
  CHECK_THROWS_WITH_AS(store->end_run({.run_id = "run_missing"}),
                       "Run \"run_missing\" was not found.", hearth::Error);
}

STORE_CONTRACT("an errored run keeps its error and says isError") {
  Backend backend;
  auto store = backend.open();
  store->create_run({.run_id = "run_2", .workflow = "fail"});
  const Json error = {{"type", "workflow_failed"}, {"message", "boom"}, {"details", ""}};
  CHECK(store->end_run({.run_id = "run_2", .status = RunStatus::errored, .error = error}));
  const auto run = store->get_run("run_2");
  CHECK(run->status == RunStatus::errored);
  CHECK(run->error == error);
  const auto end = store->read("runs/run_2", -1).events.at(0);
  CHECK(end.data["isError"] == true);
  CHECK(end.data["error"] == error);
  CHECK(to_json(*run)["error"] == error);
}

STORE_CONTRACT("list_runs returns newest first, filtered and limited") {
  Backend backend;
  auto store = backend.open();
  for (int i = 0; i < 5; ++i)
    store->create_run({.run_id = "run_" + std::to_string(i), .workflow = i % 2 ? "odd" : "even"});
  store->end_run({.run_id = "run_4", .status = RunStatus::completed});
  const auto all = store->list_runs();
  REQUIRE(all.size() == 5);
  // Same-millisecond starts fall back to runId order (ULIDs sort by time).
  for (std::size_t i = 1; i < all.size(); ++i)
    CHECK((all[i - 1].started_at > all[i].started_at ||
           (all[i - 1].started_at == all[i].started_at && all[i - 1].run_id > all[i].run_id)));
  CHECK(store->list_runs({.limit = 2}).size() == 2);
  CHECK(store->list_runs({.workflow = "odd"}).size() == 2);
  CHECK(store->list_runs({.status = RunStatus::completed}).size() == 1);
  CHECK(store->list_runs({.status = RunStatus::active, .workflow = "even"}).size() == 2);
}

STORE_CONTRACT("recover_abandoned_runs errors runs whose owner process died") {
  Backend backend;
  auto store = backend.open();
  const int dead = dead_pid();
  store->create_run({.run_id = "run_dead", .workflow = "w", .owner_pid = dead});
  store->append("runs/run_dead", {.type = "run_start"});
  store->create_run({.run_id = "run_mine", .workflow = "w"});                        // this process
  store->create_run({.run_id = "run_parent", .workflow = "w", .owner_pid = ::getppid()}); // alive

  const auto recovered = store->recover_abandoned_runs();
  REQUIRE(recovered.size() == 1);
  CHECK(recovered[0] == "run_dead");
  CHECK(store->recover_abandoned_runs().empty()); // nothing left to do

  const auto run = store->get_run("run_dead");
  CHECK(run->status == RunStatus::errored);
  CHECK(run->error["type"] == "runtime_crashed");
  CHECK(run->error["message"] == "The runtime exited before the run finished.");
  const auto page = store->read("runs/run_dead", -1);
  REQUIRE(page.events.size() == 2);
  CHECK(page.events[1].type == "run_end");
  CHECK(page.events[1].data["isError"] == true);
  CHECK(page.events[1].data["error"]["type"] == "runtime_crashed");
  CHECK(page.closed);
  CHECK(store->get_run("run_mine")->status == RunStatus::active);
  CHECK(store->get_run("run_parent")->status == RunStatus::active);
}

} // TEST_SUITE

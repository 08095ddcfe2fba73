// Contract tests for workflow runs: records, run_end, listing, crash recovery (store/runs.cpp).
#include "contract.hpp"

#include "core/error.hpp"

#include <optional>
#include <thread>

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

// --- durable runs (issue 15 §1) --------------------------------------------------------------

STORE_CONTRACT("a resumable run of a dead owner is left to take-over, not ended") {
  Backend backend;
  auto store = backend.open();
  const int dead = dead_pid();
  store->create_run({.run_id = "run_durable", .workflow = "w", .owner_pid = dead, .resumable = true});
  store->create_run({.run_id = "run_plain", .workflow = "w", .owner_pid = dead});
  store->create_run({.run_id = "run_live", .workflow = "w", .owner_pid = ::getppid(),
                     .resumable = true});
  store->create_run({.run_id = "run_mine", .workflow = "w", .resumable = true});

  CHECK(store->recover_abandoned_runs() == std::vector<std::string>{"run_plain"});
  CHECK(store->get_run("run_durable")->status == RunStatus::active);
  const auto abandoned = store->abandoned_runs();
  REQUIRE(abandoned.size() == 1);
  CHECK(abandoned[0].run_id == "run_durable");
  CHECK(abandoned[0].workflow == "w");
  CHECK(abandoned[0].attempts == 1);
  CHECK(abandoned[0].fence == 0);
  CHECK(abandoned[0].owner_pid == dead);
}

STORE_CONTRACT("take_over_run: of two takers with the same fence exactly one wins") {
  Backend backend;
  auto store = backend.open();
  store->create_run({.run_id = "run_t", .workflow = "w", .owner_pid = dead_pid(), .resumable = true});
  CHECK(store->checkpoint_run("run_t", 0, {{"step", 1}}));

  auto other = Backend::shared ? backend.open() : nullptr; // a second process on the same file
  auto& second = other ? *other : *store;
  std::optional<RunRecord> first_take, second_take;
  std::thread racer([&] { second_take = second.take_over_run("run_t", 0); });
  first_take = store->take_over_run("run_t", 0);
  racer.join();
  CHECK(first_take.has_value() != second_take.has_value());
  const auto& won = first_take ? *first_take : *second_take;
  CHECK(won.attempts == 2);
  CHECK(won.fence == 1);
  CHECK(won.owner_pid == static_cast<int>(::getpid()));
  CHECK(store->abandoned_runs().empty()); // owned by a live process now

  // The old owner is fenced out: its checkpoints and its end change nothing.
  CHECK_FALSE(store->checkpoint_run("run_t", 0, {{"step", 2}}));
  CHECK(store->run_checkpoint("run_t")["step"] == 1);
  CHECK_FALSE(store->end_run({.run_id = "run_t", .status = RunStatus::completed, .result = 1,
                              .fence = 0}));
  CHECK(store->get_run("run_t")->status == RunStatus::active);
  // The new owner writes with its fence.
  CHECK(store->checkpoint_run("run_t", 1, {{"step", 2}}));
  CHECK(store->run_checkpoint("run_t")["step"] == 2);
  CHECK(store->end_run({.run_id = "run_t", .status = RunStatus::completed, .result = 2,
                        .fence = 1}));
  CHECK(store->get_run("run_t")->result == 2);
  // An ended run takes no checkpoint and no take-over.
  CHECK_FALSE(store->checkpoint_run("run_t", 1, {{"step", 3}}));
  CHECK_FALSE(store->take_over_run("run_t", 1).has_value());
}

STORE_CONTRACT("checkpoint_run_after and end_run_after commit the events with their write") {
  Backend backend;
  auto store = backend.open();
  store->create_run({.run_id = "run_w", .workflow = "w", .resumable = true});
  store->append("runs/run_w", {.type = "run_start"});
  const std::vector<NewEvent> step = {{.type = "turn", .data = {{"n", 1}}},
                                      {.type = "trace", .data = {{"n", 2}}}};
  // The events go in with the checkpoint; the seq of the first comes back.
  CHECK(store->checkpoint_run_after("run_w", 0, step, {{"step", 1}}) == 1);
  CHECK(store->run_checkpoint("run_w")["step"] == 1);
  // Nothing queued: only the checkpoint, and the stream's next seq.
  CHECK(store->checkpoint_run_after("run_w", 0, {}, {{"step", 2}}) == 3);
  CHECK(store->run_checkpoint("run_w")["step"] == 2);
  // Under a fence that moved: neither the checkpoint nor the events.
  CHECK_FALSE(store->checkpoint_run_after("run_w", 7, step, {{"step", 9}}).has_value());
  CHECK(store->run_checkpoint("run_w")["step"] == 2);
  CHECK(store->stream_info("runs/run_w")->last_seq == 2);

  // The end: the events, then run_end, in one commit.
  const std::vector<NewEvent> last = {{.type = "operation"}, {.type = "idle"}};
  CHECK_FALSE(store->end_run_after({.run_id = "run_w", .status = RunStatus::completed,
                                    .result = 1, .fence = 7},
                                   last)
                  .has_value()); // another owner's fence: nothing
  CHECK(store->stream_info("runs/run_w")->last_seq == 2);
  CHECK(store->end_run_after({.run_id = "run_w", .status = RunStatus::completed, .result = 5,
                              .fence = 0},
                             last) == 3);
  const auto page = store->read("runs/run_w", -1, 100);
  REQUIRE(page.events.size() == 6);
  CHECK(page.events[1].data["n"] == 1);
  CHECK(page.events[3].type == "operation");
  CHECK(page.events[4].type == "idle");
  CHECK(page.events[5].type == "run_end");
  CHECK(page.events[5].data["result"] == 5);
  CHECK(page.closed);
  CHECK(store->get_run("run_w")->result == 5);
  // Ended: neither takes anything more.
  CHECK_FALSE(store->end_run_after({.run_id = "run_w", .status = RunStatus::errored,
                                    .error = {{"type", "x"}}},
                                   last)
                  .has_value());
  CHECK_FALSE(store->checkpoint_run_after("run_w", 0, step, {{"step", 3}}).has_value());
  CHECK(store->read("runs/run_w", -1, 100).events.size() == 6);
  CHECK_THROWS_WITH_AS((void)store->end_run_after({.run_id = "run_none"}, last),
                       "Run \"run_none\" was not found.", hearth::Error);
}

} // TEST_SUITE

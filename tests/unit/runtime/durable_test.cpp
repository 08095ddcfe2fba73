// Durable runs (issue 15 §1, docs/runtime.md "Durable runs"): a run whose runtime died is taken
// over and continued from its checkpoint; nothing that completed is replayed.
#include "core/error.hpp"
#include "runtime/runtime.hpp"
#include "sandbox/sandbox.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

int dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
  }
  return static_cast<int>(child);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Workflow `notes` on mock/script: step 1 asks for two `note` calls, step 2 answers "done".
/// The tool appends its text to notes.log.
struct Durable {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::vector<json> events;

  Program program(bool idempotent, int max_attempts = 3) {
    project.write("agent/tools/note.sh",
                  "#!/bin/sh\npython3 -c 'import json,sys; print(json.load(sys.stdin)[\"text\"])' >> " +
                      (project.root() / "notes.log").string() + "\necho noted\n",
                  true);
    project.write("agent/mock.jsonl",
                  "{\"toolCalls\":[{\"name\":\"note\",\"input\":{\"text\":\"1\"}},"
                  "{\"name\":\"note\",\"input\":{\"text\":\"2\"}}]}\n"
                  "{\"text\":\"done\"}\n");
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "Take notes.",
                   .mock_script = project.root() / "agent/mock.jsonl"};
    // Unsandboxed: the tool appends to a host file the test reads.
    agent.sandbox = hearth::sandbox::merge({}, {{"backend", "none"}});
    agent.tools.push_back({.name = "note", .description = "Notes.",
                           .input_schema = make_schema(
                               {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}}),
                           .command = {(project.root() / "agent/tools/note.sh").string()},
                           .cwd = project.root(), .idempotent = idempotent});
    WorkflowDef notes{.name = "notes", .body = "Take notes.", .max_attempts = max_attempts};
    return Program{.root_agent = "assistant", .agents = {agent}, .workflows = {notes}};
  }

  Runtime runtime(Program p) {
    return Runtime(std::move(p), RuntimeContext{.project_root = project.root()}, *store);
  }

  /// A run of `notes` left by a dead runtime inside step 1: the model asked for both calls,
  /// call c1 finished ("ok 1"), call c2 was running.
  std::string crashed_run() {
    const std::string id = "run_01DURABLEAAAAAAAAAAAAAAAA";
    store->create_run({.run_id = id, .workflow = "notes", .owner_pid = dead_pid(),
                       .resumable = true});
    store->append("runs/" + id, {.type = "run_start", .data = {{"runId", id}}});
    const json assistant = {
        {"role", "assistant"},
        {"content", json::array({{{"type", "toolCall"}, {"id", "c1"}, {"name", "note"},
                                  {"arguments", {{"text", "1"}}}},
                                 {{"type", "toolCall"}, {"id", "c2"}, {"name", "note"},
                                  {"arguments", {{"text", "2"}}}}})}};
    const json checkpoint = {
        {"version", 1}, {"phase", "tools"}, {"step", 1}, {"turnId", "turn_1"},
        {"messages", json::array({{{"role", "user"},
                                   {"content", json::array({{{"type", "text"}, {"text", "Take notes."}}})}},
                                  assistant})},
        {"calls", json::array({{{"toolCallId", "c1"}, {"toolName", "note"}, {"args", {{"text", "1"}}},
                                {"outcome", {{"text", "ok 1"}, {"isError", false}}}},
                               {{"toolCallId", "c2"}, {"toolName", "note"}, {"args", {{"text", "2"}}}}})},
        {"text", ""}, {"usage", json::object()}, {"provider", "mock"}, {"model", "script"},
        {"invalidResults", 0}, {"options", {{"headless", true}}}};
    const auto run = store->get_run(id);
    REQUIRE(store->checkpoint_run(id, run->fence, checkpoint));
    return id;
  }

  /// Takes the crashed runs over as a starting server does, and executes them.
  std::vector<std::string> resume(Runtime& rt) {
    const auto taken = rt.take_over_abandoned_runs();
    for (const auto& id : taken)
      rt.execute_run(id, "", [this](const json& e) { events.push_back(e); });
    return taken;
  }

  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> out;
    for (const auto& e : events)
      if (e["type"] == type) out.push_back(e);
    return out;
  }
};

} // namespace

TEST_SUITE("runtime") {
  TEST_CASE("a run taken over before it ever started begins with run_start, not run_resume") {
    Durable d;
    auto rt = d.runtime(d.program(false));
    rt.set_durable(true);
    // Admitted by a runtime that died before running it (queued): no event, no checkpoint.
    const std::string id = "run_01DURABLEQUEUEDAAAAAAAAA";
    d.store->create_run({.run_id = id, .workflow = "notes", .payload = {{"n", 1}},
                         .owner_pid = dead_pid(), .resumable = true});
    REQUIRE(d.resume(rt) == std::vector<std::string>{id});
    const auto run = d.store->get_run(id);
    CHECK(run->status == hearth::store::RunStatus::completed);
    CHECK(run->attempts == 2);
    REQUIRE(d.of_type("run_start").size() == 1);
    CHECK(d.of_type("run_start")[0]["payload"] == json{{"n", 1}});
    CHECK(d.of_type("run_resume").empty());
    const auto notes = read_file(d.project.root() / "notes.log"); // from the first step on
    CHECK((notes == "1\n2\n" || notes == "2\n1\n"));
  }

  TEST_CASE("a taken-over run resumes mid-step: the in-flight call is interrupted, not re-run") {
    Durable d;
    auto rt = d.runtime(d.program(false));
    rt.set_durable(true);
    const auto id = d.crashed_run();
    REQUIRE(d.resume(rt) == std::vector<std::string>{id});

    const auto run = d.store->get_run(id);
    CHECK(run->status == hearth::store::RunStatus::completed);
    CHECK(run->result == "done"); // mock/script went on with line 2: step 1 was not asked again
    CHECK(run->attempts == 2);
    CHECK(run->fence == 1);
    REQUIRE(d.of_type("run_resume").size() == 1);
    CHECK(d.of_type("run_resume")[0]["attempt"] == 2);
    CHECK(d.of_type("run_start").empty());
    CHECK_FALSE(std::filesystem::exists(d.project.root() / "notes.log")); // nothing ran again
    const auto calls = d.of_type("tool_call");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["toolCallId"] == "c2");
    CHECK(calls[0]["isError"] == true);
    CHECK(calls[0]["result"]["content"][0]["text"].get<std::string>().find(
              "interrupted by a runtime restart") != std::string::npos);
    CHECK(d.of_type("turn_request").size() == 1); // one model call: step 2
    // The finished call kept its recorded result in the history the model read.
    const auto end = d.of_type("agent_end");
    REQUIRE(end.size() == 1);
    bool kept = false;
    for (const auto& m : end[0]["messages"])
      if (m.value("toolCallId", "") == "c1") kept = m["content"][0]["text"] == "ok 1";
    CHECK(kept);
    // The last step (the model's text answer) left its "tools" checkpoint, no "done" one.
    const auto last = d.store->run_checkpoint(id);
    CHECK(last["phase"] == "tools");
    CHECK(last["step"] == 2);
    CHECK(last["calls"].empty());
  }

  TEST_CASE("an idempotent tool in flight at the crash runs again on resume") {
    Durable d;
    auto rt = d.runtime(d.program(true));
    rt.set_durable(true);
    const auto id = d.crashed_run();
    d.resume(rt);
    CHECK(d.store->get_run(id)->status == hearth::store::RunStatus::completed);
    CHECK(read_file(d.project.root() / "notes.log") == "2\n"); // c2 again, c1 not
    const auto calls = d.of_type("tool_call");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["isError"] == false);
  }

  TEST_CASE("a run past its maxAttempts ends runtime_crashed instead of resuming") {
    Durable d;
    auto rt = d.runtime(d.program(false, 1));
    rt.set_durable(true);
    const auto id = d.crashed_run();
    CHECK(d.resume(rt).empty());
    const auto run = d.store->get_run(id);
    CHECK(run->status == hearth::store::RunStatus::errored);
    CHECK(run->error["type"] == "runtime_crashed");
    CHECK(run->error["details"].get<std::string>().find("maxAttempts") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(d.project.root() / "notes.log"));
  }

  TEST_CASE("a fresh durable run checkpoints every step and mock/script counts assistant steps") {
    Durable d;
    auto rt = d.runtime(d.program(false));
    rt.set_durable(true);
    const auto id = rt.admit_run("notes", json::object());
    CHECK(d.store->get_run(id)->resumable);
    CHECK(rt.execute_run(id, "", {}) == "done");
    // Step 1 complete ("done", in the history), then step 2's answer: the step that finishes
    // the turn writes no "done" checkpoint of its own, the run's end follows it.
    const auto checkpoint = d.store->run_checkpoint(id);
    CHECK(checkpoint["phase"] == "tools");
    CHECK(checkpoint["step"] == 2);
    CHECK_FALSE(checkpoint.contains("finished"));
    CHECK(read_file(d.project.root() / "notes.log").size() == 4); // "1\n2\n" in either order
  }

  TEST_CASE("a run that died after its last step's answer ends without asking the model again") {
    Durable d;
    auto rt = d.runtime(d.program(false));
    rt.set_durable(true);
    const auto done = rt.admit_run("notes", json::object());
    REQUIRE(rt.execute_run(done, "", {}) == "done");
    // The same state left by a runtime that died between that checkpoint and the run's end.
    const std::string id = "run_01DURABLELASTSTEPAAAAAAAA";
    d.store->create_run({.run_id = id, .workflow = "notes", .owner_pid = dead_pid(),
                         .resumable = true});
    d.store->append("runs/" + id, {.type = "run_start", .data = {{"runId", id}}});
    REQUIRE(d.store->checkpoint_run(id, d.store->get_run(id)->fence, d.store->run_checkpoint(done)));
    std::filesystem::remove(d.project.root() / "notes.log");
    REQUIRE(d.resume(rt) == std::vector<std::string>{id});
    const auto run = d.store->get_run(id);
    CHECK(run->status == hearth::store::RunStatus::completed);
    CHECK(run->result == "done");
    CHECK(d.of_type("turn_request").empty()); // the model was not asked again
    CHECK(d.of_type("tool_call").empty());    // nor any tool of step 1
    CHECK_FALSE(std::filesystem::exists(d.project.root() / "notes.log"));
  }
}

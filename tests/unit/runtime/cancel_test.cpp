// Cancelling turns and runs (issue 12 §6; docs/runtime.md "Cancellation"): a tool's process group
// is killed, a held model step stops, subagents stop with their parent, the turn ends `cancelled`
// within a second with a consistent history, and the next prompt works.
#include "core/error.hpp"
#include "core/process.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <future>
#include <thread>

using namespace hearth::runtime;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Fixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::mutex mutex;
  std::vector<json> events;

  Fixture() { hearth::process::become_subreaper(); } // killed groups are reaped, not zombies

  /// An agent on mock/script (`script` lines) with the tool `sleeper` (writes its pid, sleeps 8 s).
  AgentDef agent(const std::string& script) {
    project.write("agent/mock.jsonl", script);
    project.write("agent/tools/sleeper.sh",
                  "#!/bin/sh\necho $$ > '" + pid_file().string() + "'\nsleep 8\necho '{}'\n", true);
    AgentDef a{.name = "assistant", .model = "mock/script", .instructions = "You help.",
               .mock_script = project.root() / "agent/mock.jsonl"};
    a.tools.push_back({.name = "sleeper", .description = "Sleeps.",
                       .command = {(project.root() / "agent/tools/sleeper.sh").string()},
                       .cwd = project.root()});
    a.sandbox.backend = "none"; // host pids, so the test can see the tool's
    return a;
  }

  std::filesystem::path pid_file() const { return project.root() / "sleeper.pid"; }

  /// The sleeper's pid once it has written it (0 after 10 s).
  pid_t wait_for_pid() const {
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      std::ifstream in(pid_file());
      pid_t pid = 0;
      if (in >> pid && pid > 0) return pid;
      std::this_thread::sleep_for(10ms);
    }
    return 0;
  }

  EventListener listener() {
    return [this](const json& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
  }

  std::vector<json> of_type(const std::string& type) {
    std::lock_guard lock(mutex);
    std::vector<json> out;
    for (const auto& e : events)
      if (e["type"] == type) out.push_back(e);
    return out;
  }
};

bool pid_gone(pid_t pid) {
  const auto deadline = Clock::now() + 2s;
  while (Clock::now() < deadline) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

/// The error type a prompt ended with ("" when it succeeded).
std::string error_of(std::future<json>& prompt) {
  try {
    prompt.get();
  } catch (const hearth::Error& e) {
    return e.info().type;
  }
  return "";
}

} // namespace

TEST_SUITE("runtime") {
  TEST_CASE("cancel_turn during a tool kills its process and the turn ends cancelled, usable") {
    Fixture f;
    const auto agent = f.agent("{\"toolCalls\":[{\"name\":\"sleeper\",\"input\":{}}]}\n"
                               "{\"text\":\"after\"}\n");
    auto rt = Runtime(Program{.root_agent = "assistant", .agents = {agent}},
                      RuntimeContext{.project_root = f.project.root()}, *f.store);
    CHECK_FALSE(rt.cancel_turn("assistant", "c1")); // nothing running yet
    auto prompt = std::async(std::launch::async, [&] {
      return rt.prompt_agent("assistant", "c1", "default", "go", json(), "", f.listener());
    });
    const auto pid = f.wait_for_pid();
    REQUIRE(pid > 0);
    const auto cancelled_at = Clock::now();
    CHECK(rt.cancel_turn("assistant", "c1"));
    CHECK(error_of(prompt) == "cancelled");
    CHECK(Clock::now() - cancelled_at < 1s);
    CHECK(pid_gone(pid));
    // The stream: the tool's result says cancelled, the operation is errored `cancelled`, idle.
    const auto calls = f.of_type("tool_call");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["isError"] == true);
    CHECK(calls[0]["result"]["details"]["cancelled"] == true);
    const auto ops = f.of_type("operation");
    REQUIRE(ops.size() == 1);
    CHECK(ops[0]["isError"] == true);
    CHECK(ops[0]["error"]["type"] == "cancelled");
    CHECK(f.events.back()["type"] == "idle");
    // History: the tool call has its result, so the provider never sees an unanswered call.
    const auto saved = f.store->load_session({.agent = "assistant", .instance_id = "c1"});
    REQUIRE(saved);
    REQUIRE(saved->messages.size() == 3);
    CHECK(saved->messages[1]["role"] == "assistant");
    CHECK(saved->messages[2]["role"] == "toolResult");
    CHECK(saved->messages[2]["isError"] == true);
    CHECK(saved->messages[2]["content"][0]["text"].get<std::string>().find("cancelled") !=
          std::string::npos);
    // The next prompt runs normally.
    const auto next = rt.prompt_agent("assistant", "c1", "default", "again", json(), "", {});
    CHECK(next["text"] == "after");
    CHECK_FALSE(rt.cancel_turn("assistant", "c1"));
  }

  TEST_CASE("cancel_turn stops a model step held open, and subagents stop with their parent") {
    Fixture f;
    SUBCASE("the root agent's own step") {
      const auto agent = f.agent("{\"text\":\"slow\",\"delayMs\":60000}\n{\"text\":\"after\"}\n");
      auto rt = Runtime(Program{.root_agent = "assistant", .agents = {agent}},
                        RuntimeContext{.project_root = f.project.root()}, *f.store);
      auto prompt = std::async(std::launch::async, [&] {
        return rt.prompt_agent("assistant", "m1", "default", "go", json(), "", f.listener());
      });
      while (f.of_type("turn_request").empty()) std::this_thread::sleep_for(10ms);
      const auto cancelled_at = Clock::now();
      CHECK(rt.cancel_turn("assistant", "m1"));
      CHECK(error_of(prompt) == "cancelled");
      CHECK(Clock::now() - cancelled_at < 1s);
      CHECK(rt.prompt_agent("assistant", "m1", "default", "again", json(), "", {})["text"] ==
            "after");
    }
    SUBCASE("a subagent's step") {
      const auto helper_script = f.project.write("agent/subagents/helper/mock.jsonl",
                                                 "{\"text\":\"x\",\"delayMs\":60000}\n");
      auto agent =
          f.agent("{\"toolCalls\":[{\"name\":\"helper\",\"input\":{\"message\":\"dig\"}}]}\n");
      agent.subagents.push_back({.name = "helper", .description = "Helps.", .model = "mock/script",
                                 .instructions = "Help.", .mock_script = helper_script});
      auto rt = Runtime(Program{.root_agent = "assistant", .agents = {agent}},
                        RuntimeContext{.project_root = f.project.root()}, *f.store);
      auto prompt = std::async(std::launch::async, [&] {
        return rt.prompt_agent("assistant", "s1", "default", "go", json(), "", f.listener());
      });
      while (f.of_type("turn_request").size() < 2) std::this_thread::sleep_for(10ms);
      const auto cancelled_at = Clock::now();
      CHECK(rt.cancel_turn("assistant", "s1"));
      CHECK(error_of(prompt) == "cancelled");
      CHECK(Clock::now() - cancelled_at < 1s);
      const auto tasks = f.of_type("task");
      REQUIRE(tasks.size() == 1);
      CHECK(tasks[0]["isError"] == true);
    }
  }

  TEST_CASE("a declarative run stops at its timeout and on cancel_run, its tool killed") {
    Fixture f;
    const auto agent = f.agent("{\"toolCalls\":[{\"name\":\"sleeper\",\"input\":{}}]}\n"
                               "{\"text\":\"never\"}\n");
    const WorkflowDef slow{.name = "slow", .agent = "assistant", .body = "go"};
    auto rt = Runtime(Program{.root_agent = "assistant", .agents = {agent}, .workflows = {slow}},
                      RuntimeContext{.project_root = f.project.root()}, *f.store);
    const auto run_id = rt.admit_run("slow", json::object());
    std::string type;
    SUBCASE("timeout") {
      const auto started = Clock::now();
      try {
        rt.execute_run(run_id, "", f.listener(), 1500);
      } catch (const hearth::Error& e) {
        type = e.info().type;
      }
      CHECK(type == "workflow_timeout");
      CHECK(Clock::now() - started < 2500ms); // the deadline, then at most ~1 s
    }
    SUBCASE("cancel_run") {
      auto run = std::async(std::launch::async, [&] {
        try {
          rt.execute_run(run_id, "", f.listener());
        } catch (const hearth::Error& e) {
          return e.info().type;
        }
        return std::string();
      });
      REQUIRE(f.wait_for_pid() > 0);
      const auto cancelled_at = Clock::now();
      CHECK(rt.cancel_run(run_id));
      type = run.get();
      CHECK(type == "cancelled");
      CHECK(Clock::now() - cancelled_at < 1s);
    }
    const auto pid = f.wait_for_pid();
    REQUIRE(pid > 0);
    CHECK(pid_gone(pid));
    const auto run = f.store->get_run(run_id);
    REQUIRE(run);
    CHECK(run->status == hearth::store::RunStatus::errored);
    CHECK(run->error["type"] == type);
  }
}

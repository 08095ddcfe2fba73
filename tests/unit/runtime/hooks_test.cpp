// The lifecycle hook runner: name mapping, answers, and every way a hook can fail without
// throwing (missing, garbage, timeout, non-zero exit).
#include "runtime/definitions.hpp"
#include "runtime/hooks.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <filesystem>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

struct HookFixture {
  TempProject project;
  AgentDef agent{.name = "assistant"};
  std::vector<std::string> failures;

  HookFixture() { agent.sandbox.backend = "none"; } // unit tests need no bwrap

  void hook(const std::string& name, const std::string& script) {
    const auto path = project.write("agent/hooks/" + name + ".sh", "#!/bin/sh\n" + script + "\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    agent.hooks.push_back({.name = name, .event = hook_event(name), .path = path});
  }

  json call(const std::string& event, std::chrono::milliseconds timeout = k_hook_timeout) {
    HookRunner runner(project.root(), false, timeout);
    return runner.run(agent, event, {{"hook", event}, {"n", 1}}, {},
                      [&](const std::string& hook, const std::string& problem) {
                        failures.push_back(hook + ": " + problem);
                      });
  }
};

} // namespace

TEST_SUITE("hooks") {
  TEST_CASE("hook names map onto lifecycle events, Eve's names included") {
    CHECK(hook_event("request") == "request");
    CHECK(hook_event("on-turn") == "request");
    CHECK(hook_event("on-finish") == "finish");
    CHECK(hook_event("On-Error") == "error");
    CHECK(hook_event("trace") == "trace");
    CHECK(hook_event("policy") == "policy");
    CHECK(hook_event("approval") == "approval");
    CHECK(hook_event("something-else").empty());
  }

  TEST_CASE("a hook reads the payload on stdin and answers JSON") {
    HookFixture f;
    f.hook("on-turn", "read line; echo \"{\\\"reject\\\": \\\"no\\\", \\\"saw\\\": $line}\"");
    const auto answer = f.call("request");
    CHECK(answer["reject"] == "no");
    CHECK(answer["saw"]["n"] == 1);
    CHECK(f.failures.empty());
  }

  TEST_CASE("a missing hook or an empty answer gives null and no error") {
    HookFixture f;
    CHECK(f.call("finish").is_null());
    f.hook("finish", "cat >/dev/null");
    CHECK(f.call("finish").is_null());
    CHECK(f.failures.empty());
  }

  TEST_CASE("garbage, a non-zero exit and a timeout are reported, never thrown") {
    HookFixture f;
    SUBCASE("garbage") {
      f.hook("request", "echo 'not json {'");
      CHECK(f.call("request").is_null());
      REQUIRE(f.failures.size() == 1);
      CHECK(f.failures[0].find("not JSON") != std::string::npos);
    }
    SUBCASE("non-zero exit") {
      f.hook("error", "echo oops >&2; exit 3");
      CHECK(f.call("error").is_null());
      REQUIRE(f.failures.size() == 1);
      CHECK(f.failures[0].find("oops") != std::string::npos);
    }
    SUBCASE("timeout") {
      f.hook("finish", "sleep 5");
      const auto started = std::chrono::steady_clock::now();
      CHECK(f.call("finish", std::chrono::milliseconds(300)).is_null());
      CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
      REQUIRE(f.failures.size() == 1);
      CHECK(f.failures[0].find("timed out") != std::string::npos);
    }
    SUBCASE("not executable") {
      const auto path = f.project.write("agent/hooks/trace.txt", "hello");
      f.agent.hooks.push_back({.name = "trace", .event = "trace", .path = path});
      CHECK(f.call("trace").is_null());
      CHECK(f.failures.size() == 1);
    }
  }

  TEST_CASE("a bound caller turns a failure into an error event on the stream") {
    HookFixture f;
    f.hook("request", "exit 1");
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/r");
    EventLog events(*store, "runs/r");
    const auto call = bind_hook_caller(std::make_shared<HookRunner>(f.project.root(), false), events,
                                       {.run_id = "r"}, {});
    CHECK(call(f.agent, "request", json::object()).is_null());
    const auto page = store->read("runs/r", -1);
    REQUIRE(!page.events.empty());
    CHECK(page.events[0].type == "error");
    CHECK(page.events[0].data["error"]["type"] == "hook_failed");
    CHECK(page.events[0].data["hook"] == "request");
  }
}

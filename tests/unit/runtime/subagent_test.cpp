// Subagent sessions (issue 16 §3): the built-in `agent` tool (a copy of the caller), the child's
// lineage on its events, its answer as the parent's tool result, and the copy depth bound.
#include "core/error.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

TEST_SUITE("runtime") {
  TEST_CASE("the agent tool runs a copy of the caller whose answer is the tool result") {
    TempProject project;
    // The copy shares the caller's model (mock/script) and so its script: line 2 is the copy's.
    const auto script = project.write("agent/mock.jsonl",
                                      "{\"toolCalls\":[{\"name\":\"agent\",\"input\":{\"message\":\"sub task\"}}]}\n"
                                      "{\"text\":\"copy says hi\"}\n"
                                      "{\"text\":\"parent done\"}\n");
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "You help.",
                   .mock_script = script};
    auto store = hearth::store::open_store("memory:");
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = project.root()}, *store);
    std::vector<json> events;
    const auto result = rt.prompt_agent("assistant", "inst", "default", "go", json(), "",
                                        [&](const json& e) { events.push_back(e); });
    CHECK(result["text"] == "parent done");
    const json* start = nullptr;
    const json* done = nullptr;
    const json* call = nullptr;
    std::vector<std::string> child_tools;
    for (const auto& e : events) {
      if (e["type"] == "task_start") start = &e;
      if (e["type"] == "task") done = &e;
      if (e["type"] == "tool_call" && e["toolName"] == "agent") call = &e;
      if (e["type"] == "turn_request" && e.contains("parentSession"))
        for (const auto& t : e["input"]["tools"]) child_tools.push_back(t["name"]);
    }
    REQUIRE(start);
    REQUIRE(done);
    REQUIRE(call);
    CHECK((*start)["kind"] == "agent");
    CHECK((*start)["depth"] == 1);
    const auto task = (*start)["taskId"].get<std::string>();
    CHECK((*start)["childSessionId"] == "inst." + task);
    CHECK((*start)["parentSessionId"] == "inst");
    CHECK((*done)["result"]["text"] == "copy says hi");
    CHECK((*call)["result"]["content"][0]["text"] == "copy says hi");
    CHECK((*call)["result"]["details"]["childSessionId"] == "inst." + task);
    // The child's events carry its lineage; the copy still offers `agent` (depth 1 < 2).
    bool lineage = false;
    for (const auto& e : events)
      if (e.value("session", "") == "default/agent/" + task && e.value("parentSession", "") == "default")
        lineage = true;
    CHECK(lineage);
    CHECK(std::count(child_tools.begin(), child_tools.end(), "agent") == 1);
  }
}

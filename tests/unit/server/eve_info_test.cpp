// /eve/v1/info (server/eve_info.cpp): what it lists must be what the runtime really has.
#include "server/eve_info.hpp"

#include <doctest/doctest.h>

using nlohmann::json;
using namespace hearth;

TEST_SUITE("server") {
  TEST_CASE("eve info lists the agent's hooks with the events the runtime calls them for") {
    runtime::AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "Hi.",
                            .directory = "/app/agent"};
    agent.hooks.push_back({.name = "on-finish", .event = "finish",
                           .path = "/app/agent/hooks/on-finish.sh"});
    agent.hooks.push_back({.name = "policy", .event = "policy", .path = "/app/agent/hooks/policy.py"});
    const auto info = server::eve_info_document(
        runtime::Program{.root_agent = "assistant", .agents = {agent}}, false);
    REQUIRE(info["hooks"].size() == 2); // before: always []
    CHECK(info["hooks"][0]["name"] == "on-finish");
    CHECK(info["hooks"][0]["event"] == "finish");
    CHECK(info["hooks"][0]["logicalPath"] == "hooks/on-finish.sh");
    CHECK(info["hooks"][1]["event"] == "policy");
  }
}

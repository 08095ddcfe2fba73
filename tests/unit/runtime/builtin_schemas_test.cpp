// One source of truth for the built-in tools (issue 12 §3): every built-in the harness offers a
// model, and validates calls against, has exactly the name, description and input schema that
// `hearth info --json` (the manifest's builtinTools) shows.
#include "core/json.hpp"
#include "core/json_schema.hpp"
#include "manifest/builtins.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

TEST_SUITE("runtime") {
  TEST_CASE("the harness offers every built-in tool with the manifest's schema") {
    TempProject project;
    project.write("agent/skills/greet.md", "---\ndescription: Greets.\n---\nSay hello.\n");
    AgentDef helper{.name = "helper", .description = "Helps.", .model = "mock/echo",
                    .instructions = "Help."};
    AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                   .skills = {{.name = "greet", .description = "Greets.",
                               .file = project.root() / "agent/skills/greet.md"}},
                   .subagents = {helper}};
    auto store = hearth::store::open_store("memory:");
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = project.root()}, *store);
    json offered;
    rt.prompt_agent("assistant", "i", "default", "hi", json(), "", [&](const json& e) {
      if (e["type"] == "turn_request") offered = e["input"]["tools"];
    });
    REQUIRE(offered.is_array());
    std::map<std::string, json> by_name;
    for (const auto& t : offered) by_name[t["name"]] = t;
    for (const auto& builtin : hearth::manifest::builtin_tools()) {
      const auto name = builtin["name"].get<std::string>();
      CAPTURE(name);
      REQUIRE(by_name.count(name) == 1);
      CHECK(by_name[name]["description"] == builtin["description"]);
      CHECK(by_name[name]["parameters"] == builtin["inputSchema"]);
    }
    REQUIRE(by_name.count("helper") == 1);
    CHECK(by_name["helper"]["parameters"] == hearth::manifest::subagent_tool_schema());
  }

  TEST_CASE("built-in tools come prepared once per process: validator and schema size") {
    for (const auto& builtin : hearth::manifest::builtin_tools()) {
      const auto name = builtin["name"].get<std::string>();
      CAPTURE(name);
      const auto tool = builtin_tool(name);
      CHECK(*tool.input_schema == builtin["inputSchema"]);
      CHECK(tool.input_schema == builtin_tool(name).input_schema); // shared, not copied
      CHECK(tool.schema_chars == hearth::dump_json(builtin["inputSchema"]).size());
      REQUIRE(tool.validator);
      CHECK(tool.validator == builtin_tool(name).validator); // the same, not compiled again
      CHECK_FALSE(tool.run);
    }
    CHECK_THROWS_AS(builtin_tool("no_such_tool"), std::out_of_range);
    // A schema that does not compile leaves the validator null (the tool checks its input).
    Tool bad{.name = "bad", .input_schema = hearth::runtime::make_schema({{"type", 42}})};
    prepare_schema(bad);
    CHECK(bad.schema_chars == hearth::dump_json(*bad.input_schema).size());
    CHECK_FALSE(bad.validator);
  }
}

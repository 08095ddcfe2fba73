#include "config/config.hpp"
#include "discovery/discovery.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace hearth;

namespace {
discovery::Discovery discover_in(const TempProject& p) {
  return discovery::discover(config::resolve({}, p.root()));
}

std::vector<std::string> codes(const discovery::Discovery& d) {
  std::vector<std::string> out;
  for (const auto& x : d.diagnostics) out.push_back(x.code);
  std::sort(out.begin(), out.end());
  return out;
}
} // namespace

TEST_SUITE("discovery") {
  TEST_CASE("nested layout: slots, names and the executable beside a spec") {
    TempProject p;
    p.write("hearth.json", R"({"name": "demo", "model": "mock/echo"})");
    p.write("agent/instructions.md", "Be useful.\n");
    p.write("agent/tools/billing/refund.json",
            R"({"description": "Refund", "inputSchema": {"type": "object"}, "approval": "always", "timeoutMs": 500})");
    p.write("agent/tools/billing/refund.sh", "#!/bin/sh\necho {}\n", true);
    p.write("agent/skills/pack/SKILL.md", "---\ndescription: Packaged\n---\nUse it.\n");
    p.write("agent/skills/pack/ref/notes.md", "notes\n");
    p.write("agent/skills/plain.md", "\n# First line wins\nrest\n");
    p.write("agent/connections/linear.json", R"({"url": "https://mcp.linear.app/sse", "headers": {"x": "y"}})");
    p.write("agent/connections/local.json", R"({"command": "npx", "args": ["server"], "env": {"A": "b"}})");
    p.write("agent/subagents/researcher/agent.json", R"({"description": "Researches", "model": "mock/other"})");
    p.write("agent/schedules/billing/sweep.md", "---\ncron: \"0 3 * * *\"\n---\nSweep.\n");
    p.write("agent/channels/slack.json", R"({"type": "slack", "secretEnv": "SLACK_SIGNING_SECRET"})");
    p.write("agent/hooks/on/turn.py", "print()\n");
    p.write("agent/sandbox/workspace/data/a.csv", "1\n");
    p.write("agent/lib/helper.py", "x = 1\n");
    p.write("agent/mock.jsonl", "{}\n");
    const auto d = discover_in(p);
    CHECK(d.diagnostics.empty());
    CHECK(d.layout == "nested");
    REQUIRE(d.root);
    const auto& a = *d.root;
    CHECK(a.name == "demo");
    CHECK(a.model == "mock/echo");
    REQUIRE(a.tools.size() == 1);
    CHECK(a.tools[0].name == "billing-refund");
    CHECK(a.tools[0].command == std::vector<std::string>{"./refund.sh"});
    CHECK(a.tools[0].cwd == "agent/tools/billing");
    CHECK(a.tools[0].approval == "always");
    CHECK(a.tools[0].timeout_ms == 500);
    REQUIRE(a.skills.size() == 2);
    CHECK(a.skills[0].name == "pack");
    CHECK(a.skills[0].dir == "agent/skills/pack");
    CHECK(a.skills[0].files == std::vector<std::string>{"ref/notes.md"});
    CHECK(a.skills[1].description == "First line wins");
    REQUIRE(a.connections.size() == 2);
    CHECK(a.connections[0].transport == "http");
    CHECK(a.connections[1].transport == "stdio");
    REQUIRE(a.subagents.size() == 1);
    CHECK(a.subagents[0].model == "mock/other");
    CHECK(a.subagents[0].kind == "subagent");
    REQUIRE(a.schedules.size() == 1);
    CHECK(a.schedules[0].name == "billing/sweep");
    CHECK(a.channels.size() == 1);
    REQUIRE(a.hooks.size() == 1);
    CHECK(a.hooks[0].name == "on-turn");
    CHECK(a.sandbox_workspace == "agent/sandbox/workspace");
    CHECK(a.sandbox_files == std::vector<std::string>{"data/a.csv"});
    CHECK(a.mock == "agent/mock.jsonl");
  }

  TEST_CASE("instructions/ directory: sorted, non-recursive, after nothing else") {
    TempProject p;
    p.write("agent/instructions/20-b.md", "second");
    p.write("agent/instructions/10-a.md", "first");
    const auto d = discover_in(p);
    CHECK(d.diagnostics.empty());
    CHECK(d.root->instructions == "first\n\nsecond");
    CHECK(d.root->instruction_files.size() == 2);
  }

  TEST_CASE("programs and declarative workflows") {
    TempProject p;
    p.write("agent/instructions.md", "x");
    p.write("workflows/a.md", "---\nhttp: true\nmaxSteps: 3\n---\nDo {{payload.x}}.\n");
    p.write("workflows/b.py", "print()\n");
    p.write("workflows/c.mjs", "1\n");
    p.write("workflows/d", "#!/bin/sh\necho\n", true);
    p.write("workflows/e.sh", "echo\n");
    p.write("workflows/b.json", R"({"description": "Bee", "http": true, "timeoutMs": 10})");
    const auto d = discover_in(p);
    CHECK(d.diagnostics.empty());
    REQUIRE(d.workflows.size() == 5);
    CHECK(d.workflows[0].agent == d.root->name);
    CHECK(d.workflows[0].http);
    CHECK(d.workflows[1].interpreter == "python3");
    CHECK(d.workflows[1].description == "Bee");
    CHECK(d.workflows[1].timeout_ms == 10);
    CHECK(d.workflows[2].interpreter == "node");
    CHECK(d.workflows[3].kind == "program");
    CHECK(d.workflows[3].interpreter.empty());
    CHECK(d.workflows[4].interpreter == "bash");
  }

  TEST_CASE("an error never stops the walk") {
    TempProject p;
    p.write("agent/agent.json", "{not json");
    p.write("agent/tools/a.json", "[]");
    p.write("agent/skills/ok.md", "Fine skill.\n");
    p.write("workflows/w.md", "---\nresult: {type: object}\n---\nGo.\n");
    const auto d = discover_in(p);
    CHECK(codes(d) == std::vector<std::string>{"invalid-field", "json-syntax", "root-instructions-missing"});
    CHECK(d.root->skills.size() == 1);
    CHECK(d.workflows.size() == 1);
  }

  TEST_CASE("diagnostics round-trip through JSON and describe themselves") {
    discovery::Diagnostic d{.severity = discovery::Severity::warning, .code = "unknown-entry",
                            .message = "Ignored.", .path = "agent/x", .line = 2, .column = 3, .hint = "Move it."};
    const auto back = discovery::diagnostic_from_json(discovery::to_json(d));
    CHECK(back.code == d.code);
    CHECK(back.line == 2);
    CHECK(back.severity == discovery::Severity::warning);
    CHECK(discovery::describe(d) == "warning[unknown-entry] agent/x:2:3: Ignored.\n  hint: Move it.");
  }
}

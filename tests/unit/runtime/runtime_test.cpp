// The runtime service end to end in one process: mock models, a memory store, real tool processes.
#include "core/error.hpp"
#include "runtime/runtime.hpp"
#include "sandbox/workspace.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

struct Fixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::vector<json> events;

  Program program(const std::string& model) {
    AgentDef agent{.name = "assistant", .model = model, .instructions = "You help."};
    WorkflowDef hello{.name = "hello",
                      .result = {{"type", "object"},
                                 {"properties", {{"greeting", {{"type", "string"}}}}},
                                 {"required", {"greeting"}}},
                      .body = "Greet {{payload.name}}."};
    return Program{.root_agent = "assistant", .agents = {agent}, .workflows = {hello}};
  }

  Runtime runtime(Program p) {
    return Runtime(std::move(p), RuntimeContext{.project_root = project.root()}, *store);
  }

  EventListener listener() {
    return [this](const json& e) { events.push_back(e); };
  }

  std::vector<std::string> types() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e["type"]);
    return out;
  }
};

} // namespace

TEST_SUITE("runtime") {
  TEST_CASE("a declarative run whose turn uses no workspace makes no directory (issue 17 §3)") {
    Fixture f;
    auto rt = f.runtime(f.program("mock/echo"));
    const auto outcome = rt.run_workflow("hello", {{"name", "World"}}, "", f.listener());
    CHECK(outcome.result.contains("greeting"));
    CHECK_FALSE(std::filesystem::exists(f.project.root() / ".hearth" / "workspaces" / outcome.run_id));
  }

  TEST_CASE("a workspace kept while its run was active goes at the next run end (issue 17 §3)") {
    Fixture f;
    const auto dir = f.project.root() / ".hearth" / "workspaces";
    const std::string held = "run_00000000000000000000000000"; // older than any real run id
    f.store->create_run({.run_id = held, .workflow = "hello", .payload = json::object()});
    f.project.write(".hearth/workspaces/" + held + "/f.txt", "data");
    // The directory last changed an hour ago: its mtime alone would let every scan be skipped.
    const struct timespec hour_ago[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
    REQUIRE(::utimensat(AT_FDCWD, dir.c_str(), hour_ago, 0) == 0);
    Runtime rt(f.program("mock/echo"),
               RuntimeContext{.project_root = f.project.root(), .workspaces = {.retain_runs = 0}},
               *f.store);
    rt.run_workflow("hello", {{"name", "World"}}, "", f.listener()); // a scan: `held` is active
    CHECK(std::filesystem::exists(dir / held));
    f.store->end_run({.run_id = held, .status = hearth::store::RunStatus::completed,
                      .result = json(nullptr)});
    rt.run_workflow("hello", {{"name", "World"}}, "", f.listener()); // no mtime moved since
    CHECK_FALSE(std::filesystem::exists(dir / held));
  }

  TEST_CASE("a declarative workflow on mock/echo returns a schema-valid result and records the run") {
    Fixture f;
    auto rt = f.runtime(f.program("mock/echo"));
    const auto outcome = rt.run_workflow("hello", {{"name", "World"}}, "", f.listener());
    CHECK(outcome.run_id.rfind("run_", 0) == 0);
    CHECK(outcome.result.contains("greeting"));
    const auto types = f.types();
    REQUIRE(types.size() > 5);
    CHECK(types.front() == "run_start");
    CHECK(types.back() == "run_end");
    CHECK(std::find(types.begin(), types.end(), "tool_call") != types.end());
    CHECK(std::find(types.begin(), types.end(), "usage") != types.end());
    for (std::size_t i = 0; i < f.events.size(); ++i) CHECK(f.events[i]["eventIndex"] == i);
    const auto run = f.store->get_run(outcome.run_id);
    REQUIRE(run);
    CHECK(run->status == hearth::store::RunStatus::completed);
    CHECK(run->result == outcome.result);
    // The live events are exactly what the store replays.
    const auto page = f.store->read("runs/" + outcome.run_id, -1, 1000);
    REQUIRE(page.events.size() == f.events.size());
    CHECK(page.closed);
  }

  TEST_CASE("a run with a payload too large to keep from admission reads its record back") {
    Fixture f;
    auto rt = f.runtime(f.program("mock/echo"));
    const json payload = {{"name", std::string(64 * 1024, 'n')}};
    const auto outcome = rt.run_workflow("hello", payload, "", f.listener());
    REQUIRE(f.types().front() == "run_start");
    CHECK(f.events.front()["payload"] == payload);
    CHECK(f.types().back() == "run_end");
    CHECK(f.events.back()["isError"] == false);
    const auto run = f.store->get_run(outcome.run_id);
    REQUIRE(run);
    CHECK(run->status == hearth::store::RunStatus::completed);
  }

  TEST_CASE("an unknown workflow names the available ones") {
    Fixture f;
    auto rt = f.runtime(f.program("mock/echo"));
    try {
      rt.run_workflow("nope", json::object(), "", {});
      FAIL("expected workflow_not_found");
    } catch (const hearth::Error& e) {
      CHECK(e.info().message == "Workflow \"nope\" is not registered.");
      CHECK(e.info().dev.find("\"hello\"") != std::string::npos);
    }
  }

  TEST_CASE("a missing payload key errors the run with a clear message") {
    Fixture f;
    auto rt = f.runtime(f.program("mock/echo"));
    CHECK_THROWS_AS(rt.run_workflow("hello", json::object(), "", f.listener()), hearth::Error);
    CHECK(f.types().back() == "run_end");
    CHECK(f.events.back()["isError"] == true);
  }

  TEST_CASE("agent prompts keep their history across calls") {
    Fixture f;
    auto rt = f.runtime(f.program("mock/echo"));
    const auto first = rt.prompt_agent("assistant", "local", "default", "hello there", json(), "", {});
    CHECK(first["text"] == "hello there");
    CHECK(first["model"]["provider"] == "mock");
    rt.prompt_agent("assistant", "local", "default", "second", json(), "", {});
    const auto session = f.store->load_session({.agent = "assistant", .instance_id = "local"});
    REQUIRE(session);
    CHECK(session->messages.size() == 4); // user, assistant, user, assistant
    CHECK_THROWS_AS(rt.prompt_agent("nobody", "x", "default", "hi", json(), "", {}), hearth::Error);
  }

  TEST_CASE("skills are seeded at skills/<name>/SKILL.md, flat ones included (seed 003)") {
    AgentDef agent{.name = "assistant",
                   .skills = {{.name = "greet", .file = "/p/agent/skills/greet.md"},
                              {.name = "review", .file = "/p/agent/skills/review/SKILL.md",
                               .directory = "/p/agent/skills/review"}}};
    const auto seeds = workspace_seeds(agent);
    REQUIRE(seeds.size() == 2);
    CHECK(seeds[0].source == "/p/agent/skills/greet.md");
    CHECK(seeds[0].destination == "skills/greet/SKILL.md");
    CHECK(seeds[1].source == "/p/agent/skills/review");
    CHECK(seeds[1].destination == "skills/review");
  }

  TEST_CASE("mock/script drives a tool, the skill loader and a final text") {
    Fixture f;
    f.project.write("agent/tools/shout.py",
                    "#!/usr/bin/env python3\nimport json,sys\nd=json.load(sys.stdin)\n"
                    "print(json.dumps({'loud': d['text'].upper()}))\n",
                    true);
    f.project.write("agent/tools/fail.sh", "#!/bin/sh\necho broken >&2\nexit 3\n", true);
    f.project.write("agent/skills/greet.md", "---\ndescription: Greets.\n---\nSay hello warmly.\n");
    f.project.write("agent/mock.jsonl",
                    "{\"toolCalls\":[{\"name\":\"load_skill\",\"input\":{\"name\":\"greet\"}}]}\n"
                    "{\"toolCalls\":[{\"name\":\"shout\",\"input\":{\"text\":\"hi\"}},"
                    "{\"name\":\"fail\",\"input\":{}},{\"name\":\"shout\",\"input\":{\"text\":5}}]}\n"
                    "{\"text\":\"done\"}\n");
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "You help.",
                   .skills = {{.name = "greet", .description = "Greets.",
                               .file = f.project.root() / "agent/skills/greet.md"}},
                   .mock_script = f.project.root() / "agent/mock.jsonl"};
    const json text_schema = {{"type", "object"},
                              {"properties", {{"text", {{"type", "string"}}}}},
                              {"required", {"text"}}};
    agent.tools.push_back({.name = "shout", .description = "Shouts.", .input_schema = make_schema(text_schema),
                           .command = {(f.project.root() / "agent/tools/shout.py").string()},
                           .cwd = f.project.root()});
    agent.tools.push_back({.name = "fail", .description = "Fails.",
                           .command = {(f.project.root() / "agent/tools/fail.sh").string()},
                           .cwd = f.project.root()});
    auto rt = f.runtime(Program{.root_agent = "assistant", .agents = {agent}});
    const auto out = rt.prompt_agent("assistant", "t1", "default", "go", json(), "", f.listener());
    CHECK(out["text"] == "done");
    std::vector<json> calls;
    for (const auto& e : f.events)
      if (e["type"] == "tool_call") calls.push_back(e);
    REQUIRE(calls.size() == 4);
    CHECK(calls[0]["toolName"] == "load_skill");
    CHECK(calls[0]["result"]["content"][0]["text"].get<std::string>().find("Say hello warmly.") == 0);
    std::map<std::string, std::vector<json>> by_name;
    for (const auto& c : calls) by_name[c["toolName"]].push_back(c);
    CHECK(by_name["fail"][0]["isError"] == true);
    CHECK(by_name["fail"][0]["result"]["content"][0]["text"].get<std::string>().find("exit code 3") !=
          std::string::npos);
    int shout_ok = 0, shout_invalid = 0;
    for (const auto& c : by_name["shout"]) {
      if (c["isError"] == true) ++shout_invalid;
      else if (c["result"]["content"][0]["text"] == "{\"loud\": \"HI\"}") ++shout_ok;
    }
    CHECK(shout_ok == 1);
    CHECK(shout_invalid == 1);
    bool stderr_logged = false;
    for (const auto& e : f.events)
      if (e["type"] == "log" && e["message"] == "broken") stderr_logged = true;
    CHECK(stderr_logged);
  }
}

TEST_SUITE("runtime") {
  TEST_CASE("bash runs in the session workspace without provider keys, and subagents run as tools") {
    Fixture f;
    ::setenv("OPENAI_API_KEY", "sk-secret", 1);
    f.project.write("agent/mock.jsonl",
                    "{\"toolCalls\":[{\"name\":\"bash\",\"input\":{\"command\":"
                    "\"echo key=$OPENAI_API_KEY; basename $PWD; echo $HEARTH_AGENT\"}}]}\n"
                    "{\"toolCalls\":[{\"name\":\"researcher\",\"input\":{\"message\":\"dig\"}}]}\n"
                    "{\"text\":\"done\"}\n");
    AgentDef researcher{.name = "researcher", .description = "Researches.", .model = "mock/echo",
                        .instructions = "Research."};
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "You help.",
                   .subagents = {researcher},
                   .mock_script = f.project.root() / "agent/mock.jsonl"};
    auto rt = f.runtime(Program{.root_agent = "assistant", .agents = {agent}});
    rt.prompt_agent("assistant", "w1", "default", "go", json(), "", f.listener());
    ::unsetenv("OPENAI_API_KEY");
    std::vector<json> calls;
    bool task_start = false, task_end = false, nested = false;
    for (const auto& e : f.events) {
      if (e["type"] == "tool_call") calls.push_back(e);
      if (e["type"] == "task_start") task_start = true;
      if (e["type"] == "task") task_end = e["isError"] == false;
      if (e.contains("parentSession") && e["parentSession"] == "default") nested = true;
    }
    REQUIRE(calls.size() == 2);
    const auto bash_out = calls[0]["result"]["content"][0]["text"].get<std::string>();
    CHECK(bash_out.find("key=\n") != std::string::npos); // the key never reaches tools
    // cwd is the workspace: /workspace in a bubblewrap sandbox, the host directory under none
    CHECK((bash_out.find("assistant-w1-default") != std::string::npos ||
           bash_out.find("\nworkspace\n") != std::string::npos));
    CHECK(bash_out.find("assistant\n") != std::string::npos);
    CHECK(calls[1]["toolName"] == "researcher");
    CHECK(calls[1]["result"]["content"][0]["text"] == "dig"); // mock/echo answered the subagent
    CHECK(task_start);
    CHECK(task_end);
    CHECK(nested);
  }

  TEST_CASE("maxSteps bounds a turn with a clear error") {
    Fixture f;
    f.project.write("agent/mock.jsonl",
                    "{\"toolCalls\":[{\"name\":\"glob\",\"input\":{\"pattern\":\"*\"}}]}\n"
                    "{\"toolCalls\":[{\"name\":\"glob\",\"input\":{\"pattern\":\"*\"}}]}\n"
                    "{\"text\":\"never\"}\n");
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "Loop.",
                   .max_steps = 2, .mock_script = f.project.root() / "agent/mock.jsonl"};
    auto rt = f.runtime(Program{.root_agent = "assistant", .agents = {agent}});
    try {
      rt.prompt_agent("assistant", "m", "default", "go", json(), "", {});
      FAIL("expected max_steps_exceeded");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "max_steps_exceeded");
      CHECK(e.info().message.find("2 steps") != std::string::npos);
    }
  }

  TEST_CASE("an invalid result goes back to the model, at most three times") {
    Fixture f;
    f.project.write("agent/mock.jsonl", "{\"result\":{\"greeting\":1}}\n{\"result\":{\"greeting\":2}}\n"
                                        "{\"result\":{\"greeting\":\"ok\"}}\n");
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "Greet.",
                   .mock_script = f.project.root() / "agent/mock.jsonl"};
    Program p = f.program("mock/script");
    p.agents = {agent};
    auto rt = f.runtime(p);
    const auto outcome = rt.run_workflow("hello", {{"name", "x"}}, "", f.listener());
    CHECK(outcome.result == json{{"greeting", "ok"}});
    f.project.write("agent/mock.jsonl", "{\"result\":{}}\n{\"result\":{}}\n{\"result\":{}}\n");
    try {
      rt.run_workflow("hello", {{"name", "x"}}, "", {});
      FAIL("expected result_invalid");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "result_invalid");
    }
  }
}

// runtime approvals: a parked turn is a store row and a saved session, resumed by decisions; the
// `once` setting and the approval / policy hooks (issue 12 §1-2).
#include "core/error.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

struct ApprovalFixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::vector<json> events;

  /// Agent `assistant` whose mock script calls tool `ship` (approval `approval`) `calls` times,
  /// once per prompt, each followed by a text answer.
  AgentDef agent(const std::string& approval, int calls) {
    std::string script;
    for (int i = 0; i < calls; ++i)
      script += "{\"toolCalls\":[{\"name\":\"ship\",\"input\":{}}]}\n{\"text\":\"done\"}\n";
    project.write("agent/mock.jsonl", script);
    project.write("agent/tools/ship.sh", "#!/bin/sh\necho '\"shipped\"'\n", true);
    AgentDef a{.name = "assistant", .model = "mock/script", .instructions = "Ship.",
               .mock_script = project.root() / "agent/mock.jsonl"};
    a.tools.push_back({.name = "ship", .description = "Ships.",
                       .command = {(project.root() / "agent/tools/ship.sh").string()},
                       .cwd = project.root(), .approval = approval});
    return a;
  }

  std::vector<json> of_type(const std::string& type) const {
    std::vector<json> out;
    for (const auto& e : events)
      if (e["type"] == type) out.push_back(e);
    return out;
  }

  EventListener listener() {
    return [this](const json& e) { events.push_back(e); };
  }
};

} // namespace

TEST_SUITE("runtime.approvals") {
  TEST_CASE("a scheduled fire runs in task mode: its approval is denied at once, nothing parks") {
    ApprovalFixture f;
    Runtime rt(Program{.root_agent = "assistant", .agents = {f.agent("always", 1)}},
               RuntimeContext{.project_root = f.project.root()}, *f.store);
    const auto out = rt.prompt_agent("assistant", "sched_1", "default", "go", json(), "",
                                     f.listener(), json(), json(), "", "nightly");
    CHECK_FALSE(out.contains("status")); // before: "waiting", parked forever
    CHECK(out["text"] == "done");
    const hearth::store::SessionKey key{.agent = "assistant", .instance_id = "sched_1"};
    CHECK(f.store->load_session(key)->parked.is_null());
    CHECK(f.of_type("turn_parked").empty());
    const auto decisions = f.of_type("approval_decision");
    REQUIRE(decisions.size() == 1);
    const auto text = decisions[0].dump();
    CHECK(text.find("deny") != std::string::npos);
    CHECK(text.find("task mode") != std::string::npos);
    CHECK(text.find("nightly") != std::string::npos);
    const auto calls = f.of_type("tool_call");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["isError"] == true); // the tool did not run
  }

  TEST_CASE("a give_up beside a parked call still ends the turn once the step completes") {
    ApprovalFixture f;
    auto agent = f.agent("always", 0);
    f.project.write("agent/mock.jsonl",
                    "{\"toolCalls\":[{\"name\":\"ship\",\"input\":{}},"
                    "{\"name\":\"give_up\",\"input\":{\"reason\":\"stuck\"}}]}\n"
                    "{\"text\":\"asked again\"}\n");
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = f.project.root()}, *f.store);
    const json schema = {{"type", "object"}, {"properties", {{"ok", {{"type", "boolean"}}}}}};
    const auto parked = rt.prompt_agent("assistant", "s1", "default", "go", schema, "", f.listener());
    REQUIRE(parked["status"] == "waiting");
    const auto id = parked["requests"][0]["approvalId"].get<std::string>();
    rt.answer_input("agents/assistant/s1", {.request_id = id, .decision = "approve"});
    try {
      rt.resume_session("assistant", "s1", "default", f.listener());
      FAIL("expected agent_gave_up");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "agent_gave_up"); // before: the model was asked again
    }
  }

  TEST_CASE("an approval parks the turn durably; the decision resumes it and `once` is remembered") {
    ApprovalFixture f;
    Runtime rt(Program{.root_agent = "assistant", .agents = {f.agent("once", 2)}},
               RuntimeContext{.project_root = f.project.root()}, *f.store);
    const auto parked = rt.prompt_agent("assistant", "s1", "default", "go", json(), "", f.listener());
    CHECK(parked["status"] == "waiting");
    REQUIRE(parked["requests"].size() == 1);
    const auto id = parked["requests"][0]["approvalId"].get<std::string>();
    const hearth::store::SessionKey key{.agent = "assistant", .instance_id = "s1"};
    CHECK_FALSE(f.store->load_session(key)->parked.is_null()); // the session waits
    CHECK(f.of_type("tool_call").empty());                      // nothing ran
    CHECK(f.of_type("turn_parked").size() == 1);
    // Nothing resumes while the request is pending.
    CHECK(rt.resume_session("assistant", "s1", "default", {}).is_null());
    rt.answer_input("agents/assistant/s1", {.request_id = id, .decision = "approve"});
    CHECK_THROWS_AS(rt.answer_input("agents/assistant/s1", {.request_id = id, .decision = "deny"}),
                    hearth::Error); // decided once
    const auto done = rt.resume_session("assistant", "s1", "default", f.listener());
    CHECK(done["text"] == "done");
    CHECK_FALSE(done.contains("status"));
    CHECK(f.store->load_session(key)->parked.is_null());
    const auto calls = f.of_type("tool_call");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["isError"] == false);
    // The history holds the assistant call and its result, in order.
    const auto messages = f.store->load_session(key)->messages;
    CHECK(messages[messages.size() - 2]["role"] == "toolResult");
    // `once`: the second call in this session runs without asking.
    const auto again = rt.prompt_agent("assistant", "s1", "default", "again", json(), "", f.listener());
    CHECK(again["text"] == "done");
    CHECK(f.of_type("approval_request").size() == 1);
    CHECK(f.of_type("tool_call").size() == 2);
  }

  TEST_CASE("a denial reaches the model as a tool error; a new message abandons a parked turn") {
    ApprovalFixture f;
    Runtime rt(Program{.root_agent = "assistant", .agents = {f.agent("always", 2)}},
               RuntimeContext{.project_root = f.project.root()}, *f.store);
    auto parked = rt.prompt_agent("assistant", "s1", "default", "go", json(), "", f.listener());
    const auto id = parked["requests"][0]["approvalId"].get<std::string>();
    rt.answer_input("agents/assistant/s1",
                    {.request_id = id, .decision = "deny", .reason = "not today",
                     .invoker = {{"id", "ada"}, {"kind", "user"}}});
    rt.resume_session("assistant", "s1", "default", f.listener());
    auto calls = f.of_type("tool_call");
    REQUIRE(calls.size() == 1);
    CHECK(calls[0]["isError"] == true);
    CHECK(calls[0]["result"]["content"][0]["text"].get<std::string>().find(
              "Tool call denied by ada: not today") == 0);
    // Parked again, then a message instead of a decision: the pending call is closed as denied.
    parked = rt.prompt_agent("assistant", "s1", "default", "go", json(), "", f.listener());
    REQUIRE(parked["status"] == "waiting");
    const auto next = rt.prompt_agent("assistant", "s1", "default", "never mind", json(), "",
                                      f.listener());
    CHECK(next["text"] == "done");
    const auto history = f.store->load_session({.agent = "assistant", .instance_id = "s1"})->messages;
    bool closed = false;
    for (const auto& m : history)
      if (m["role"] == "toolResult" && m["isError"] == true &&
          m["content"][0]["text"].get<std::string>().find("a new message arrived") != std::string::npos)
        closed = true;
    CHECK(closed);
    const auto record = f.store->get_approval(parked["requests"][0]["approvalId"].get<std::string>());
    CHECK(record->status == "denied");
  }

  TEST_CASE("the approval hook decides without parking; the policy hook can deny") {
    ApprovalFixture f;
    json approval_answer = {{"decision", "approve"}};
    json policy_answer;
    RuntimeContext context{.project_root = f.project.root()};
    context.call_hook = [&](const AgentDef&, std::string_view name, const json&) -> json {
      return name == "approval" ? approval_answer : policy_answer;
    };
    Runtime rt(Program{.root_agent = "assistant", .agents = {f.agent("always", 2)}}, context, *f.store);
    const auto out = rt.prompt_agent("assistant", "s1", "default", "go", json(), "", f.listener());
    CHECK(out["text"] == "done");
    CHECK(f.of_type("approval_decision").size() == 1);
    CHECK(f.of_type("approval_decision")[0]["invoker"]["kind"] == "hook");
    CHECK(f.of_type("tool_call")[0]["isError"] == false);
    policy_answer = {{"decision", "deny"}, {"reason", "frozen"}};
    rt.prompt_agent("assistant", "s1", "default", "go", json(), "", f.listener());
    const auto denied = f.of_type("tool_call").back();
    CHECK(denied["isError"] == true);
    CHECK(denied["result"]["content"][0]["text"] == "Tool call denied by the policy hook: frozen.");
    CHECK(f.of_type("policy_decision").back()["source"] == "hook");
  }

  TEST_CASE("a workflow run cannot park: without a decision it fails naming the approval") {
    ApprovalFixture f;
    WorkflowDef go{.name = "go", .body = "Go."};
    Runtime rt(Program{.root_agent = "assistant", .agents = {f.agent("always", 2)}, .workflows = {go}},
               RuntimeContext{.project_root = f.project.root()}, *f.store);
    try {
      rt.run_workflow("go", json::object(), "", {});
      FAIL("expected approval_required");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "approval_required");
      CHECK(e.info().message.find("Tool \"ship\" requires approval (apr_") == 0);
      // The request nobody could decide is closed: a later decision cannot "approve" it.
      const auto id = e.info().message.substr(e.info().message.find("apr_"), 30);
      const auto record = f.store->get_approval(id.substr(0, id.find(')')));
      REQUIRE(record);
      CHECK(record->status == "denied");
    }
    const auto run_id = rt.admit_run("go", json::object());
    rt.set_run_approvals(run_id, {"all"}, {});
    CHECK(rt.execute_run(run_id, "", {}) == "done");
  }
}

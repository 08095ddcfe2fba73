// The Eve projection of agent-stream events (server/eve_projection.hpp), event by event.
#include "server/eve_projection.hpp"

#include <doctest/doctest.h>

using nlohmann::json;

TEST_SUITE("server") {
  TEST_CASE("a cancelled operation projects as turn.cancelled then session.waiting") {
    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1");
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", {{"operationKind", "prompt"}}},
        {"turn_request", {{"provider", "mock"}, {"model", "script"}}},
        {"operation",
         {{"operationKind", "prompt"}, {"isError", true},
          {"error", {{"type", "cancelled"}, {"message", "The turn was cancelled."}}}}},
        {"idle", json::object()}};
    std::vector<json> out;
    std::int64_t seq = 0;
    for (const auto& [type, data] : stream)
      projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"},
                     out);
    std::vector<std::string> types;
    for (const auto& e : out) types.push_back(e["type"]);
    CHECK(types == std::vector<std::string>{"session.started", "turn.started", "message.received",
                                            "step.started", "turn.cancelled", "session.waiting"});
    CHECK(out[4]["data"] == json({{"sequence", 0}, {"turnId", "turn_0"}}));
  }

  TEST_CASE("a file part's size is its decoded byte size; internal ref schemes are refused") {
    using hearth::server::parse_eve_message;
    auto size_of = [](const std::string& data) {
      const auto m = parse_eve_message(json::array(
          {{{"type", "file"}, {"mediaType", "text/plain"}, {"filename", "n.txt"}, {"data", data}}}));
      return m.parts[0];
    };
    CHECK(size_of("aGVsbG8gd29ybGQh")["size"] == 12);          // "hello world!"
    CHECK(size_of("aGVsbG8=")["size"] == 5);                   // padded
    CHECK(size_of("aGVsbG8")["size"] == 5);                    // unpadded
    CHECK(size_of("aGVs\nbG8=")["size"] == 5);                 // line-wrapped
    CHECK(size_of("data:text/plain;base64,aGk=")["size"] == 2);
    CHECK(size_of("data:text/plain,a%20b")["size"] == 3);
    CHECK_FALSE(size_of("https://example.com/a.txt").contains("size")); // not fetched
    CHECK_THROWS(size_of("eve-attachment:abc"));
    CHECK_THROWS(size_of("not base64!"));
    CHECK_THROWS(size_of("aGVsbG8=x"));
  }

  TEST_CASE("action.result output is the tool's raw value, bash's streams, a skill's markdown") {
    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1");
    auto call = [](std::string tool, json result, bool error = false) {
      return json{{"toolName", tool}, {"toolCallId", "c_" + tool}, {"result", result}, {"isError", error}};
    };
    auto text = [](std::string t) { return json::array({{{"type", "text"}, {"text", t}}}); };
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", {{"operationKind", "prompt"}}},
        {"turn_request", {{"provider", "mock"}, {"model", "script"}}},
        {"tool_call", call("get_weather", {{"content", text("{\"city\":\"Paris\"}")},
                                          {"details", {{"exitCode", 0}, {"output", {{"city", "Paris"}}}}}})},
        {"tool_call", call("bash", {{"content", text("exit code: 0\nstdout:\n/workspace\n")},
                                   {"details", {{"exitCode", 0}, {"stdout", "/workspace\n"}, {"stderr", ""},
                                                {"truncated", false}, {"status", "completed"}}}})},
        {"tool_call", call("load_skill", {{"content", text("# Get weather\n")},
                                         {"details", {{"skill", "get-weather"}, {"files", json::array()}}}})},
        {"tool_call", call("explode", {{"content", text("explode failed")}, {"details", {{"exitCode", 3}}}}, true)}};
    std::vector<json> out;
    std::int64_t seq = 0;
    for (const auto& [type, data] : stream)
      projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"}, out);
    std::vector<json> results;
    for (const auto& e : out)
      if (e["type"] == "action.result") results.push_back(e["data"]);
    REQUIRE(results.size() == 4);
    CHECK(results[0]["result"]["output"] == json({{"city", "Paris"}}));
    CHECK(results[1]["result"]["output"]["stdout"] == "/workspace\n");
    CHECK(results[1]["result"]["output"]["status"] == "completed");
    CHECK(results[2]["result"]["kind"] == "load-skill-result");
    CHECK(results[2]["result"]["name"] == "get-weather");
    CHECK(results[2]["result"]["output"] == "# Get weather\n");
    CHECK(results[2]["presentation"]["c_load_skill"]["label"] == "Loaded skill get-weather");
    CHECK(results[3]["status"] == "failed");
    CHECK(results[3]["error"] == json({{"code", "ACTION_RESULT_FAILED"}, {"message", "explode failed"},
                                       {"name", "Error"}}));
    CHECK(results[3]["result"]["output"] == "explode failed");
    CHECK(results[3]["result"]["isError"] == true);
  }

  TEST_CASE("an inline subagent shows as subagent.started/completed, never as the parent's steps") {
    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1");
    const json child = {{"parentSession", "default"}, {"taskId", "task_1"}};
    auto with = [](json a, const json& b) {
      a.update(b);
      return a;
    };
    auto assistant = [](std::string text) {
      return json{{"message", {{"role", "assistant"}, {"content", {{{"type", "text"}, {"text", text}}}}}}};
    };
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", {{"operationKind", "prompt"}}},
        {"turn_request", {{"provider", "mock"}, {"model", "script"}}},
        {"tool_start", {{"toolName", "researcher"}, {"toolCallId", "call_1"}, {"args", {{"message", "dig"}}}}},
        {"task_start", {{"taskId", "task_1"}, {"agent", "researcher"}, {"prompt", "dig"}, {"toolCallId", "call_1"}}},
        {"turn_request", with({{"provider", "mock"}, {"model", "echo"}}, child)},
        {"message_end", with(assistant("found it"), child)},
        {"turn", with({{"usage", {{"input", 7}, {"output", 3}}}}, child)},
        {"compaction_start", with({{"reason", "threshold"}, {"provider", "mock"}, {"model", "echo"}}, child)},
        {"compaction", with({{"reason", "threshold"}, {"usage", {{"input", 4}, {"output", 1}}}}, child)},
        {"task", {{"taskId", "task_1"}, {"agent", "researcher"}, {"toolCallId", "call_1"}, {"isError", false},
                  {"result", {{"text", "found it"}}}}},
        {"tool_call", {{"toolName", "researcher"}, {"toolCallId", "call_1"}, {"isError", false},
                       {"result", {{"content", {{{"type", "text"}, {"text", "found it"}}}},
                                   {"details", {{"taskId", "task_1"}, {"agent", "researcher"},
                                                {"output", "found it"}}}}}}},
        {"turn", {{"usage", {{"input", 10}, {"output", 5}}}}},
        {"operation", {{"operationKind", "prompt"}, {"isError", false}, {"result", {{"text", "done"}}}}},
        {"idle", json::object()}};
    std::vector<json> out;
    std::int64_t seq = 0;
    for (const auto& [type, data] : stream)
      projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"}, out);
    std::vector<std::string> types;
    for (const auto& e : out) types.push_back(e["type"]);
    CHECK(std::count(types.begin(), types.end(), "step.started") == 1); // the parent's only
    CHECK(std::count(types.begin(), types.end(), "message.completed") == 0);
    const auto at = [&](const std::string& t) {
      return *std::find_if(out.begin(), out.end(), [&](const json& e) { return e["type"] == t; });
    };
    CHECK(at("subagent.started")["data"]["callId"] == "call_1");
    CHECK(at("subagent.started")["data"]["name"] == "researcher");
    CHECK(at("subagent.completed")["data"]["output"] == "found it");
    CHECK(at("subagent.completed")["data"]["status"] == "completed");
    CHECK(at("action.result")["data"]["result"]["output"] == "found it"); // the child's answer
    CHECK(out.back()["data"]["usage"]["inputTokens"] == 21); // delegated usage, its compaction too
  }

  TEST_CASE("a compact or clear on a parked session says session.waiting again afterwards") {
    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1");
    const json env = {{"instanceId", "wrun_1"}};
    auto with = [&](json d) {
      d.update(env);
      return d;
    };
    const json request = {{"kind", "approval"}, {"approvalId", "apr_1"}, {"toolName", "ship"},
                          {"toolCallId", "call_1"}};
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", with({{"operationKind", "prompt"}})},
        {"turn_request", with({{"provider", "mock"}, {"model", "script"}})},
        {"turn_parked", with({{"requests", json::array({request})}})},
        {"operation", with({{"operationKind", "prompt"}, {"isError", false}, {"waiting", true}})},
        {"idle", env},
        {"compaction_start", with({{"reason", "manual"}, {"provider", "mock"}, {"model", "echo"}})},
        {"compaction", with({{"reason", "manual"}, {"provider", "mock"}, {"model", "echo"}})},
        {"idle", env},
        {"approval_decision", with({{"approvalId", "apr_1"}, {"decision", "deny"}})},
        {"context_cleared", env},
        {"idle", env}};
    std::vector<json> out;
    std::int64_t seq = 0;
    for (const auto& [type, data] : stream)
      projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"},
                     out);
    std::vector<std::string> types;
    for (const auto& e : out) types.push_back(e["type"]);
    const auto parked = std::find(types.begin(), types.end(), "input.requested");
    REQUIRE(parked != types.end());
    CHECK(std::vector<std::string>(parked, types.end()) ==
          std::vector<std::string>{"input.requested", "turn.waiting", "compaction.requested",
                                   "compaction.completed", "session.waiting", "input.resolved",
                                   "context.cleared", "session.waiting"});
    CHECK(out.back()["data"]["wait"] == "next-user-message");
    CHECK(out.back()["data"]["continuationToken"] == "wrun_1");
  }
}

TEST_SUITE("server") {
  TEST_CASE("compaction in a turn and from …/compact, …/clear project as Eve 0.80.1 shows them") {
    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1");
    const json env = {{"instanceId", "wrun_1"}};
    auto with = [&](json d) {
      d.update(env);
      return d;
    };
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", with({{"operationKind", "prompt"}})},
        {"compaction_start", with({{"reason", "threshold"}, {"usageInputTokens", 900},
                                   {"provider", "mock"}, {"model", "echo"}})},
        {"compaction", with({{"reason", "threshold"}, {"provider", "mock"}, {"model", "echo"},
                             {"usage", {{"input", 10}, {"output", 5}}}})},
        {"turn_request", with({{"provider", "mock"}, {"model", "echo"}})},
        {"operation", with({{"operationKind", "prompt"}, {"isError", false}})},
        {"idle", env},
        {"compaction_start", with({{"reason", "manual"}, {"usageInputTokens", 700},
                                   {"provider", "mock"}, {"model", "echo"}})},
        {"compaction", with({{"reason", "manual"}, {"provider", "mock"}, {"model", "echo"}})},
        {"idle", env},
        {"context_cleared", env},
        {"idle", env}};
    std::vector<json> out;
    std::int64_t seq = 0;
    for (const auto& [type, data] : stream)
      projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"},
                     out);
    std::vector<std::string> types;
    for (const auto& e : out) types.push_back(e["type"]);
    CHECK(types == std::vector<std::string>{
                       "session.started", "turn.started", "message.received",
                       "compaction.requested", "compaction.completed", "step.started",
                       "turn.completed", "session.waiting", "compaction.requested",
                       "compaction.completed", "session.waiting", "context.cleared",
                       "session.waiting"});
    CHECK(out[3]["data"] == json({{"modelId", "mock/echo"}, {"sequence", 0}, {"sessionId", "wrun_1"},
                                  {"stepIndex", 0}, {"turnId", "turn_0"}, {"usageInputTokens", 900}}));
    CHECK(out[4]["data"] == json({{"modelId", "mock/echo"}, {"sequence", 0}, {"sessionId", "wrun_1"},
                                  {"stepIndex", 0}, {"turnId", "turn_0"}}));
    CHECK(out[8]["data"]["turnId"] == "turn_1");
    CHECK(out[11]["data"] == json({{"sequence", 2}, {"sessionId", "wrun_1"}, {"turnId", "turn_2"}}));
    CHECK(out[7]["data"]["usage"]["inputTokens"] == 10); // the summary counts as session usage
  }
}

TEST_SUITE("server") {
  TEST_CASE("a subagent's child session: subagent.called on the parent, its own stream as a session") {
    const json child = {{"parentSession", "default"}, {"session", "default/researcher/task_1"},
                        {"taskId", "task_1"}};
    const json grandchild = {{"parentSession", "default/researcher/task_1"},
                             {"session", "default/researcher/task_1/agent/task_2"}, {"taskId", "task_2"}};
    auto with = [](json a, const json& b) {
      a.update(b);
      return a;
    };
    auto assistant = [](std::string text) {
      return json{{"message", {{"role", "assistant"}, {"content", {{{"type", "text"}, {"text", text}}}}}}};
    };
    const json parent = {{"session", "default"}, {"instanceId", "wrun_1"}};
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", with({{"operationKind", "prompt"}}, parent)},
        {"turn_request", with({{"provider", "mock"}, {"model", "script"}}, parent)},
        {"task_start", with({{"taskId", "task_1"}, {"agent", "researcher"}, {"prompt", "dig"},
                             {"toolCallId", "call_1"}, {"childSessionId", "wrun_1.task_1"}}, parent)},
        {"turn_request", with({{"provider", "mock"}, {"model", "echo"}}, child)},
        {"task_start", with({{"taskId", "task_2"}, {"agent", "agent"}, {"prompt", "deeper"},
                             {"toolCallId", "call_2"}, {"childSessionId", "wrun_1.task_2"}}, child)},
        {"turn_request", with({{"provider", "mock"}, {"model", "echo"}}, grandchild)},
        {"message_end", with(assistant("deep"), grandchild)},
        {"task", with({{"taskId", "task_2"}, {"agent", "agent"}, {"toolCallId", "call_2"},
                       {"isError", false}, {"result", {{"text", "deep"}}}}, child)},
        {"message_end", with(assistant("found it"), child)},
        {"turn", with({{"usage", {{"input", 7}, {"output", 3}}}}, child)},
        {"task", with({{"taskId", "task_1"}, {"agent", "researcher"}, {"toolCallId", "call_1"},
                       {"isError", false}, {"result", {{"text", "found it"}}}}, parent)},
        {"operation", with({{"operationKind", "prompt"}, {"isError", false}}, parent)},
        {"idle", parent}};
    auto project = [&](hearth::server::EveProjector& projector) {
      std::vector<json> out;
      std::int64_t seq = 0;
      for (const auto& [type, data] : stream)
        projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"}, out);
      return out;
    };
    auto types_of = [](const std::vector<json>& out) {
      std::vector<std::string> types;
      for (const auto& e : out) types.push_back(e["type"]);
      return types;
    };
    hearth::server::EveProjector root("agents/a/wrun_1", "a", "wrun_1");
    const auto parent_out = project(root);
    const auto pt = types_of(parent_out);
    const auto called = std::find(pt.begin(), pt.end(), "subagent.called");
    REQUIRE(called != pt.end());
    const auto& c = parent_out[static_cast<std::size_t>(called - pt.begin())]["data"];
    CHECK(c["childSessionId"] == "wrun_1.task_1");
    CHECK(c["streamPath"] == "/eve/v1/session/wrun_1.task_1/stream");
    CHECK(std::count(pt.begin(), pt.end(), "subagent.called") == 1); // the grandchild is the child's
    CHECK(std::count(pt.begin(), pt.end(), "agent.started") == 1);
    CHECK(std::count(pt.begin(), pt.end(), "task.settled") == 1);

    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1.task_1:0");
    projector.follow_child("task_1", "wrun_1");
    const auto out = project(projector);
    CHECK(projector.child_seen());
    CHECK(projector.child_done());
    CHECK(types_of(out) == std::vector<std::string>{
                               "session.started", "turn.started", "message.received", "step.started",
                               "subagent.called", "task.started", "agent.started", "subagent.started",
                               "task.settled", "subagent.completed", "message.completed",
                               "step.completed", "turn.completed", "session.waiting"});
    CHECK(out[0]["data"]["runtime"]["agentName"] == "researcher");
    CHECK(out[0]["data"]["parent"] == json({{"sessionId", "wrun_1"}, {"taskId", "task_1"},
                                            {"callId", "call_1"}, {"agentName", "researcher"}}));
    CHECK(out[2]["data"]["message"] == "dig");
    CHECK(out[10]["data"]["message"] == "found it");
    CHECK(out[4]["data"]["childSessionId"] == "wrun_1.task_2");

    hearth::server::EveProjector missing("agents/a/wrun_1", "a", "x");
    missing.follow_child("task_9", "wrun_1");
    CHECK(project(missing).empty());
    CHECK_FALSE(missing.child_seen());
  }
}

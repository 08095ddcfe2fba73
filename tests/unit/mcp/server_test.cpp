// hearth as an MCP server, the transport-independent core (lib/mcp/server.hpp; issue 13 §6):
// lifecycle and version negotiation, tools/list pagination and names, tools/call of workflows and
// agents on mock models, errors per the spec, progress/log notifications and cancellation.
#include "core/error.hpp"
#include "mcp/server.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <future>
#include <mutex>
#include <thread>

using namespace hearth::runtime;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::unique_ptr<Runtime> rt;
  std::mutex mutex;
  std::vector<json> notes;

  explicit Fixture(std::size_t extra_workflows = 0) {
    project.write("sleeper/mock.jsonl", "{\"text\":\"late\",\"delayMs\":20000}\n");
    AgentDef root{.name = "assistant",
                  .description = "Helps.",
                  .model = "mock/echo",
                  .instructions = "You help.",
                  .http = true};
    AgentDef sleeper{.name = "sleeper",
                     .model = "mock/script",
                     .instructions = "You sleep.",
                     .mock_script = project.root() / "sleeper/mock.jsonl"};
    AgentDef shaper{.name = "shaper",
                    .model = "mock/echo",
                    .instructions = "You shape.",
                    .output_schema = {{"type", "object"},
                                      {"properties", {{"n", {{"type", "integer"}}}}},
                                      {"required", {"n"}}},
                    .http = true};
    sleeper.sandbox.backend = "none";
    root.sandbox.backend = "none";
    std::vector<WorkflowDef> workflows = {
        {.name = "broken",
         .description = "Fails.",
         .agent = "assistant",
         .model = "mock/nope",
         .body = "x",
         .http = true},
        {.name = "hello",
         .description = "Greets.",
         .agent = "assistant",
         .result = {{"type", "object"},
                    {"properties", {{"greeting", {{"type", "string"}}}}},
                    {"required", {"greeting"}}},
         .body = "Greet {{payload.name}}.",
         .http = true},
        {.name = "hidden", .agent = "assistant", .body = "x"},
        {.name = "slow", .agent = "sleeper", .body = "x", .http = true},
        {.name = "weird name!", .agent = "assistant", .body = "x", .http = true}};
    for (std::size_t i = 0; i < extra_workflows; ++i)
      workflows.push_back(
          {.name = "w" + std::to_string(100 + i), .agent = "assistant", .body = "x", .http = true});
    std::sort(workflows.begin(), workflows.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    rt = std::make_unique<Runtime>(Program{.root_agent = "assistant",
                                           .agents = {root, sleeper, shaper},
                                           .workflows = workflows},
                                   RuntimeContext{.project_root = project.root()}, *store);
  }

  hearth::mcp::Emit emit() {
    return [this](const json& m) {
      std::lock_guard lock(mutex);
      notes.push_back(m);
    };
  }

  static json request(int id, const std::string& method, json params = json::object()) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  }
};

json init(hearth::mcp::Session& s, const std::string& version = "2025-11-25") {
  return *s.handle(Fixture::request(0, "initialize",
                                    {{"protocolVersion", version},
                                     {"capabilities", json::object()},
                                     {"clientInfo", {{"name", "t"}, {"version", "1"}}}}),
                   std::nullopt, {});
}

} // namespace

TEST_SUITE("mcp_server") {
  TEST_CASE("initialize negotiates the version and announces tools and logging") {
    Fixture f;
    hearth::mcp::Session s(*f.rt, {});
    CHECK(s.handle(Fixture::request(1, "tools/list"), std::nullopt, {})->at("error")["code"] ==
          -32600); // before initialize
    CHECK(init(s, "2025-06-18")["result"]["protocolVersion"] == "2025-06-18");
    const auto r = init(s, "2025-03-26")["result"];
    CHECK(r["protocolVersion"] == "2025-11-25");
    CHECK(r["capabilities"] ==
          json{{"tools", {{"listChanged", false}}}, {"logging", json::object()}});
    CHECK(r["serverInfo"]["name"] == "hearth");
    CHECK(s.handle({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}, std::nullopt,
                   {}) == std::nullopt);
    CHECK(*s.handle(Fixture::request(2, "ping"), std::nullopt, {}) ==
          json{{"jsonrpc", "2.0"}, {"id", 2}, {"result", json::object()}});
    CHECK(s.handle(Fixture::request(3, "nope"), std::nullopt, {})->at("error")["code"] == -32601);
    CHECK(s.handle(json::array({1}), std::nullopt, {})->at("error")["code"] == -32600);
    CHECK(s.handle({{"jsonrpc", "2.0"}, {"id", nullptr}, {"method", "ping"}}, std::nullopt, {})
              ->at("error")["code"] == -32600);
    CHECK(s.handle(Fixture::request(4, "logging/setLevel", {{"level", "loud"}}), std::nullopt, {})
              ->at("error")["code"] == -32602);
  }

  TEST_CASE("tools: http workflows and agents, sanitized names, cursor pagination") {
    Fixture f(60);
    hearth::mcp::Session s(*f.rt, {});
    init(s);
    std::vector<std::string> names;
    json cursor;
    int pages = 0;
    do {
      json params = json::object();
      if (!cursor.is_null())
        params["cursor"] = cursor;
      const auto r =
          s.handle(Fixture::request(1, "tools/list", params), std::nullopt, {})->at("result");
      for (const auto& t : r["tools"]) {
        names.push_back(t["name"]);
        CHECK(t["inputSchema"]["type"] == "object");
        CHECK(!t["description"].get<std::string>().empty());
      }
      cursor = r.value("nextCursor", json());
      ++pages;
    } while (!cursor.is_null() && pages < 10);
    CHECK(pages == 2);
    CHECK(names.size() == 66); // 64 http workflows + the 2 http agents
    CHECK(std::find(names.begin(), names.end(), "weird_name_") != names.end());
    CHECK(std::find(names.begin(), names.end(), "agent_assistant") != names.end());
    CHECK(std::find(names.begin(), names.end(), "hidden") == names.end());
    CHECK(s.handle(Fixture::request(2, "tools/list", {{"cursor", "999"}}), std::nullopt, {})
              ->at("error")["code"] == -32602);
    CHECK(hearth::mcp::sanitize_tool_name("a b/c.d-e") == "a_b_c.d-e");
    CHECK(hearth::mcp::accepted_header_version("2025-03-26"));
    CHECK(hearth::mcp::accepted_header_version("2025-06-18"));
    CHECK(!hearth::mcp::accepted_header_version("2024-11-05"));
  }

  TEST_CASE("tools/call: results, structuredContent, tool errors and protocol errors") {
    Fixture f;
    hearth::mcp::Session s(*f.rt, {});
    init(s);
    auto call = [&](const json& params) {
      return *s.handle(Fixture::request(9, "tools/call", params), std::nullopt, f.emit());
    };
    const auto hello = call({{"name", "hello"}, {"arguments", {{"name", "Ada"}}}})["result"];
    CHECK(hello["isError"] == false);
    CHECK(hello["structuredContent"].contains("greeting"));
    CHECK(json::parse(hello["content"][0]["text"].get<std::string>()) ==
          hello["structuredContent"]);
    const auto broken = call({{"name", "broken"}})["result"];
    CHECK(broken["isError"] == true);
    CHECK(broken["content"][0]["text"].get<std::string>().find("nope") != std::string::npos);
    const auto agent =
        call({{"name", "agent_assistant"}, {"arguments", {{"message", "hi there"}}}});
    CHECK(agent["result"]["content"] == json::array({{{"type", "text"}, {"text", "hi there"}}}));
    CHECK(call({{"name", "agent_assistant"},
                {"arguments", {{"message", "x"}, {"sessionId", "../x"}}}})["result"]["isError"] ==
          true);
    const auto shaped =
        call({{"name", "agent_shaper"}, {"arguments", {{"message", "x"}}}})["result"];
    CHECK(shaped["structuredContent"]["n"].is_number_integer());
    CHECK(call({{"name", "hidden"}})["error"]["code"] == -32602);
    CHECK(call({{"name", "hello"}, {"arguments", "x"}})["error"]["code"] == -32602);
    CHECK(call({{"name", 5}})["error"]["code"] == -32602);
    CHECK(call({{"name", "hello"},
                {"_meta", {{"progressToken", std::string(1025, 't')}}}})["error"]["code"] ==
          -32602);
    CHECK(f.notes.empty()); // no progressToken, logging off: nothing emitted
  }

  TEST_CASE("progress notifications carry the token; log messages follow the level") {
    Fixture f;
    hearth::mcp::Session s(*f.rt, {});
    init(s);
    const auto msg =
        Fixture::request(3, "tools/call", {{"name", "hello"}, {"_meta", {{"progressToken", "t"}}}});
    CHECK(s.call_may_notify(msg));
    CHECK(!s.call_may_notify(Fixture::request(3, "tools/call", {{"name", "hello"}})));
    s.handle(msg, std::nullopt, f.emit());
    REQUIRE(f.notes.size() >= 3);
    for (std::size_t i = 0; i < f.notes.size(); ++i) {
      CHECK(f.notes[i]["method"] == "notifications/progress");
      CHECK(f.notes[i]["params"]["progressToken"] == "t");
      CHECK(f.notes[i]["params"]["progress"] == i + 1);
    }
    f.notes.clear();
    s.handle(Fixture::request(4, "logging/setLevel", {{"level", "info"}}), std::nullopt, {});
    s.handle(Fixture::request(5, "tools/call", {{"name", "hello"}}), std::nullopt, f.emit());
    REQUIRE(f.notes.size() >= 2);
    for (const auto& n : f.notes) {
      CHECK(n["method"] == "notifications/message");
      CHECK(n["params"]["level"] != "debug");
    }
    CHECK(f.notes.front()["params"]["data"]["type"] == "run_start");
  }

  TEST_CASE("notifications/cancelled cancels the workflow run in flight within a second") {
    Fixture f;
    hearth::mcp::Session s(*f.rt, {});
    init(s);
    auto reply = std::async(std::launch::async, [&] {
      return *s.handle(Fixture::request(7, "tools/call", {{"name", "slow"}}), std::nullopt,
                       f.emit());
    });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (s.calls_in_flight() == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    std::this_thread::sleep_for(200ms); // the run is executing, its model step held
    const auto at = std::chrono::steady_clock::now();
    s.handle({{"jsonrpc", "2.0"},
              {"method", "notifications/cancelled"},
              {"params", {{"requestId", 7}, {"reason", "test"}}}},
             std::nullopt, {});
    REQUIRE(reply.wait_for(5s) == std::future_status::ready);
    CHECK(std::chrono::steady_clock::now() - at < 1500ms);
    const auto r = reply.get()["result"];
    CHECK(r["isError"] == true);
    CHECK(r["_meta"]["hearth/errorType"] == "cancelled");
    CHECK(s.calls_in_flight() == 0);
    // a cancellation that overtakes its call (still being dispatched): the call does not start
    s.handle({{"jsonrpc", "2.0"},
              {"method", "notifications/cancelled"},
              {"params", {{"requestId", "early"}}}},
             std::nullopt, {});
    json early = Fixture::request(0, "tools/call", {{"name", "hello"}});
    early["id"] = "early";
    CHECK(s.handle(early, std::nullopt, {})->at("result")["_meta"]["hearth/errorType"] ==
          "cancelled");
    s.close(); // a call that arrives after the session ended does not start
    const auto late =
        s.handle(Fixture::request(8, "tools/call", {{"name", "hello"}}), std::nullopt, {});
    CHECK(late->at("result")["_meta"]["hearth/errorType"] == "cancelled");
  }
}

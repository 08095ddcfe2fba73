// The MCP client (issue 13 §1-§2) against a fake in-memory server, and the connection pool
// against tests/e2e/fixtures/mcp_server.py over stdio.
#include "core/error.hpp"
#include "core/errors.hpp"
#include "core/json.hpp"
#include "mcp/client.hpp"
#include "mcp/connection_tools.hpp"
#include "mcp/connections.hpp"
#include "mcp/oauth.hpp"
#include "mcp/openapi.hpp"
#include "providers/sse.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <unistd.h>
#include <csignal>
#include <mutex>
#include <thread>

using namespace hearth;
using nlohmann::json;

namespace {

/// A transport whose server is a function: each message sent is recorded and handed to
/// `respond`, whose answers (if any) go straight back to the client, as an HTTP answer would.
struct Fake {
  std::mutex mutex;
  std::vector<json> sent;
  std::function<std::vector<json>(const json&)> respond;
  mcp::Transport::Sink raw_sink;
  /// Hands `message` to the client as arriving on the answer stream of request `related` (null:
  /// no request's stream, as stdio).
  void sink(json message, json related = nullptr) { raw_sink(std::move(message), related); }
  mcp::Transport::Closed closed;
  mcp::Transport::Closed failed;

  /// The answers to server requests (string ids) once `n` were sent (replies are written by the
  /// client's writer thread), waiting up to 2 s.
  std::map<std::string, json> answers(std::size_t n) {
    std::map<std::string, json> out;
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mutex);
        out.clear();
        for (const auto& m : sent)
          if (m.contains("id") && m["id"].is_string()) out[m["id"].get<std::string>()] = m;
      }
      if (out.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return out;
  }

  std::vector<json> sent_with(const std::string& method) {
    std::lock_guard lock(mutex);
    std::vector<json> out;
    for (const auto& m : sent)
      if (m.value("method", "") == method) out.push_back(m);
    return out;
  }
};

class FakeTransport : public mcp::Transport {
public:
  explicit FakeTransport(std::shared_ptr<Fake> fake) : m_fake(std::move(fake)) {}
  void start(Sink sink, Closed closed, Closed failed) override {
    m_fake->raw_sink = std::move(sink);
    m_fake->closed = std::move(closed);
    m_fake->failed = std::move(failed);
  }
  void send(const json& message, std::stop_token, std::chrono::milliseconds) override {
    {
      std::lock_guard lock(m_fake->mutex);
      m_fake->sent.push_back(message);
    }
    if (m_fake->respond)
      for (auto& reply : m_fake->respond(message))
        m_fake->sink(reply, message.contains("id") ? message["id"] : json()); // as HTTP: on its stream
  }
  void close() noexcept override {}
  json describe() const override { return {{"transport", "fake"}}; }

private:
  std::shared_ptr<Fake> m_fake;
};

json reply(const json& request, json result) {
  return {{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", std::move(result)}};
}

/// A server answering initialize with `version` and tools/list with `tools` in pages of `page`.
std::function<std::vector<json>(const json&)> server(std::string version, json tools = json::array(),
                                                     std::size_t page = 2) {
  return [version, tools, page](const json& m) -> std::vector<json> {
    const auto method = m.value("method", "");
    if (!m.contains("id")) return {};
    if (method == "initialize")
      return {reply(m, {{"protocolVersion", version},
                        {"capabilities", {{"tools", json::object()}}},
                        {"serverInfo", {{"name", "fake"}, {"version", "1"}}}})};
    if (method == "tools/list") {
      const std::size_t start =
          m["params"].contains("cursor") ? std::stoul(m["params"]["cursor"].get<std::string>()) : 0;
      json out = {{"tools", json::array()}};
      for (std::size_t i = start; i < tools.size() && i < start + page; ++i) out["tools"].push_back(tools[i]);
      if (start + page < tools.size()) out["nextCursor"] = std::to_string(start + page);
      return {reply(m, out)};
    }
    return {};
  };
}

std::unique_ptr<mcp::Client> client_for(std::shared_ptr<Fake> fake, mcp::ClientOptions options = {}) {
  options.name = "fake";
  return std::make_unique<mcp::Client>(std::make_unique<FakeTransport>(fake), options);
}

json tool(const std::string& name) {
  return {{"name", name}, {"description", "Tool " + name}, {"inputSchema", {{"type", "object"}}}};
}

} // namespace

TEST_SUITE("mcp") {
  TEST_CASE("initialize offers 2025-11-25, accepts 2025-06-18 and sends notifications/initialized") {
    for (const std::string version : {"2025-11-25", "2025-06-18"}) {
      auto fake = std::make_shared<Fake>();
      fake->respond = server(version);
      auto client = client_for(fake);
      client->initialize();
      CHECK(client->protocol_version() == version);
      const auto init = fake->sent_with("initialize");
      REQUIRE(init.size() == 1);
      CHECK(init[0]["params"]["protocolVersion"] == "2025-11-25");
      CHECK(init[0]["params"]["clientInfo"]["name"] == "hearth");
      CHECK(fake->sent_with("notifications/initialized").size() == 1);
      CHECK(client->server_info()["name"] == "fake");
    }
  }

  TEST_CASE("a protocol version hearth does not speak fails the connection") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2024-11-05");
    auto client = client_for(fake);
    try {
      client->initialize();
      FAIL("initialize accepted 2024-11-05");
    } catch (const Error& e) {
      CHECK(e.info().type == "mcp_connection_failed");
      CHECK(e.info().message.find("2024-11-05") != std::string::npos);
    }
    CHECK(fake->sent_with("notifications/initialized").empty());
    CHECK_FALSE(client->alive());
  }

  TEST_CASE("tools/list follows nextCursor across pages") {
    auto fake = std::make_shared<Fake>();
    json tools = json::array();
    for (int i = 0; i < 5; ++i) tools.push_back(tool("t" + std::to_string(i)));
    fake->respond = server("2025-11-25", tools, 2);
    auto client = client_for(fake);
    client->initialize();
    const auto listed = client->list_tools();
    REQUIRE(listed.size() == 5);
    CHECK(listed[4].name == "t4");
    CHECK(fake->sent_with("tools/list").size() == 3);
    CHECK(fake->sent_with("tools/list")[1]["params"]["cursor"] == "2");
  }

  TEST_CASE("too many tools or a huge schema fail closed") {
    auto fake = std::make_shared<Fake>();
    json tools = json::array();
    for (int i = 0; i < 10; ++i) tools.push_back(tool("t" + std::to_string(i)));
    fake->respond = server("2025-11-25", tools, 10);
    auto client = client_for(fake, {.limits = {.max_tools = 4}});
    client->initialize();
    CHECK_THROWS_WITH_AS(client->list_tools(), doctest::Contains("more than 4 tools"), Error);
    CHECK_FALSE(client->alive());

    auto fake2 = std::make_shared<Fake>();
    json big = tool("big");
    big["inputSchema"]["description"] = std::string(100'000, 'x');
    fake2->respond = server("2025-11-25", json::array({big}));
    auto client2 = client_for(fake2);
    client2->initialize();
    CHECK_THROWS_WITH_AS(client2->list_tools(), doctest::Contains("larger than"), Error);
  }

  TEST_CASE("a timed-out call sends notifications/cancelled with its request id") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2025-11-25");
    auto client = client_for(fake);
    client->initialize();
    try {
      client->call_tool("slow", json::object(), std::chrono::milliseconds(50));
      FAIL("no timeout");
    } catch (const Error& e) {
      CHECK(e.info().type == "mcp_timeout");
    }
    const auto call = fake->sent_with("tools/call");
    const auto cancelled = fake->sent_with("notifications/cancelled");
    REQUIRE(call.size() == 1);
    REQUIRE(cancelled.size() == 1);
    CHECK(cancelled[0]["params"]["requestId"] == call[0]["id"]);
  }

  TEST_CASE("cancelling the turn cancels the request at once") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2025-11-25");
    auto client = client_for(fake);
    client->initialize();
    std::stop_source stop;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      stop.request_stop();
    });
    const auto started = std::chrono::steady_clock::now();
    try {
      client->call_tool("slow", json::object(), std::chrono::seconds(30), stop.get_token());
      FAIL("not cancelled");
    } catch (const Error& e) {
      CHECK(e.info().type == "cancelled");
    }
    canceller.join();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(fake->sent_with("notifications/cancelled").size() == 1);
    CHECK(client->alive()); // the session stays usable
  }

  TEST_CASE("progress notifications reach the call's handler; results and errors come back") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    fake->respond = [base](const json& m) -> std::vector<json> {
      if (m.value("method", "") != "tools/call") return base(m);
      const auto token = m["params"].value("_meta", json::object()).value("progressToken", json());
      if (m["params"]["name"] == "bad")
        return {{{"jsonrpc", "2.0"}, {"id", m["id"]}, {"error", {{"code", -32602}, {"message", "bad args"}}}}};
      return {{{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
               {"params", {{"progressToken", token}, {"progress", 1}, {"total", 2}}}},
              reply(m, {{"content", {{{"type", "text"}, {"text", "done"}}}}})};
    };
    auto client = client_for(fake);
    client->initialize();
    std::vector<json> progress;
    const auto result = client->call_tool("t", json::object(), std::chrono::seconds(5), {},
                                          [&](const json& p) { progress.push_back(p); });
    CHECK(result["content"][0]["text"] == "done");
    REQUIRE(progress.size() == 1);
    CHECK(progress[0]["total"] == 2);
    CHECK_THROWS_WITH_AS(client->call_tool("bad", json::object(), std::chrono::seconds(5)),
                         doctest::Contains("bad args"), Error);
  }

  TEST_CASE("server requests: roots/list answers the root, elicitation is declined, others -32601") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2025-11-25");
    auto client = client_for(fake, {.root_uri = "file:///project"});
    client->initialize();
    const auto init = fake->sent_with("initialize");
    CHECK(init[0]["params"]["capabilities"].contains("roots"));
    fake->sink({{"jsonrpc", "2.0"}, {"id", "s1"}, {"method", "roots/list"}});
    fake->sink({{"jsonrpc", "2.0"}, {"id", "s2"}, {"method", "elicitation/create"},
                {"params", {{"message", "name?"}}}});
    fake->sink({{"jsonrpc", "2.0"}, {"id", "s3"}, {"method", "sampling/createMessage"}});
    fake->sink({{"jsonrpc", "2.0"}, {"id", "s4"}, {"method", "nope/never"}});
    auto answers = fake->answers(4);
    CHECK(answers["s1"]["result"]["roots"][0]["uri"] == "file:///project");
    CHECK(answers["s2"]["result"]["action"] == "decline");
    CHECK(answers["s3"]["error"]["code"] == -1);
    CHECK(answers["s4"]["error"]["code"] == -32601);
  }

  TEST_CASE("sampling: with a handler it is declared and answered off the reader thread") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2025-11-25");
    std::atomic<int> calls{0};
    auto client = client_for(fake, {.sample = [&](const json& params, std::stop_token) -> json {
                                      ++calls;
                                      std::this_thread::sleep_for(std::chrono::milliseconds(300));
                                      if (params.contains("fail")) throw errors::mcp_config_invalid("fake", "no");
                                      return {{"role", "assistant"},
                                              {"content", {{"type", "text"}, {"text", "pong"}}},
                                              {"model", "mock/echo"}};
                                    }});
    client->initialize();
    CHECK(fake->sent_with("initialize")[0]["params"]["capabilities"].contains("sampling"));
    const auto started = std::chrono::steady_clock::now();
    fake->sink({{"jsonrpc", "2.0"}, {"id", "m1"}, {"method", "sampling/createMessage"},
                {"params", {{"messages", json::array()}}}});
    fake->sink({{"jsonrpc", "2.0"}, {"id", "m2"}, {"method", "sampling/createMessage"},
                {"params", {{"fail", true}}}});
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(250)); // the reader goes on
    auto answers = fake->answers(2);
    CHECK(answers["m1"]["result"]["content"]["text"] == "pong");
    CHECK(answers["m2"]["error"]["code"] == -1);
    CHECK(calls == 2);
    // without a handler: not declared, refused
    auto plain_fake = std::make_shared<Fake>();
    plain_fake->respond = server("2025-11-25");
    auto plain = client_for(plain_fake);
    plain->initialize();
    CHECK_FALSE(plain_fake->sent_with("initialize")[0]["params"]["capabilities"].contains("sampling"));
  }

  TEST_CASE("answers to server requests are never written on the reader thread") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    fake->respond = [base](const json& m) -> std::vector<json> {
      if (!m.contains("method")) std::this_thread::sleep_for(std::chrono::milliseconds(1500)); // a full pipe
      return base(m);
    };
    auto client = client_for(fake);
    client->initialize();
    const auto started = std::chrono::steady_clock::now();
    fake->sink({{"jsonrpc", "2.0"}, {"id", "p1"}, {"method", "ping"}});
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500));
    CHECK(fake->answers(1).count("p1") == 1);
  }

  TEST_CASE("elicitation: defaults mode accepts a request whose fields all have defaults") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2025-11-25");
    auto client = client_for(fake, {.elicitation_defaults = true});
    client->initialize();
    CHECK(fake->sent_with("initialize")[0]["params"]["capabilities"].contains("elicitation"));
    const json all_defaults = {{"type", "object"},
                               {"properties", {{"name", {{"type", "string"}, {"default", "Ann"}}},
                                               {"age", {{"type", "integer"}, {"default", 30}}}}},
                               {"required", {"name"}}};
    json missing = all_defaults;
    missing["properties"]["city"] = {{"type", "string"}};
    missing["required"].push_back("city");
    fake->sink({{"jsonrpc", "2.0"}, {"id", "e1"}, {"method", "elicitation/create"},
                {"params", {{"message", "?"}, {"requestedSchema", all_defaults}}}});
    fake->sink({{"jsonrpc", "2.0"}, {"id", "e2"}, {"method", "elicitation/create"},
                {"params", {{"message", "?"}, {"requestedSchema", missing}}}});
    auto answers = fake->answers(2);
    CHECK(answers["e1"]["result"] == json{{"action", "accept"}, {"content", {{"name", "Ann"}, {"age", 30}}}});
    CHECK(answers["e2"]["result"] == json{{"action", "decline"}});
  }

  TEST_CASE("elicitation: the call's Elicitor answers the server's question while the call waits") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    auto call_id = std::make_shared<json>();
    fake->respond = [base, call_id](const json& m) -> std::vector<json> {
      if (m.value("method", "") == "tools/call") { // asks first, as an HTTP server does on its stream
        *call_id = m["id"];
        return {json{{"jsonrpc", "2.0"}, {"id", "el1"}, {"method", "elicitation/create"},
                     {"params", {{"message", "Name?"}, {"requestedSchema", {{"type", "object"}}}}}}};
      }
      if (!m.contains("method") && m.value("id", json()) == "el1")
        return {reply(json{{"id", *call_id}},
                      {{"content", json::array({{{"type", "text"}, {"text", dump_json(m["result"])}}})}})};
      return base(m);
    };
    auto client = client_for(fake, {.elicitation = true});
    client->initialize();
    CHECK(fake->sent_with("initialize")[0]["params"]["capabilities"].contains("elicitation"));
    std::thread::id asked_on;
    const auto result = client->call_tool(
        "t", json::object(), std::chrono::seconds(5), {}, {},
        [&](const json& params, std::stop_token) {
          asked_on = std::this_thread::get_id();
          CHECK(params["message"] == "Name?");
          return json{{"action", "accept"}, {"content", {{"name", "Ada"}}}};
        });
    CHECK(result["content"][0]["text"] == R"({"action":"accept","content":{"name":"Ada"}})");
    CHECK(asked_on != std::this_thread::get_id()); // a worker, never the reader nor the caller
    // No call waiting with an Elicitor: declined as before.
    fake->sink({{"jsonrpc", "2.0"}, {"id", "el2"}, {"method", "elicitation/create"},
                {"params", {{"message", "?"}, {"requestedSchema", {{"type", "object"}}}}}});
    CHECK(fake->answers(2)["el2"]["result"] == json{{"action", "decline"}});
  }

  TEST_CASE("elicitation: a call that times out stops its Elicitor and answers cancel") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    fake->respond = [base](const json& m) -> std::vector<json> {
      if (m.value("method", "") == "tools/call")
        return {json{{"jsonrpc", "2.0"}, {"id", "el1"}, {"method", "elicitation/create"},
                     {"params", {{"message", "Name?"}}}}};
      return base(m);
    };
    auto client = client_for(fake, {.elicitation = true});
    client->initialize();
    std::atomic<bool> stopped{false};
    CHECK_THROWS_WITH_AS(client->call_tool("t", json::object(), std::chrono::milliseconds(300), {}, {},
                                           [&](const json&, std::stop_token stop) {
                                             while (!stop.stop_requested())
                                               std::this_thread::sleep_for(std::chrono::milliseconds(5));
                                             stopped = true;
                                             return json{{"action", "cancel"}};
                                           }),
                         doctest::Contains("within 300 ms"), Error);
    CHECK(stopped); // call_tool returned only after its Elicitor ended
    CHECK(fake->answers(1)["el1"]["result"] == json{{"action", "cancel"}});
  }

  TEST_CASE("elicitation: a question goes to the call whose stream carried it, never another's") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    std::mutex ids_mutex;
    std::vector<json> call_ids;
    fake->respond = [&, base](const json& m) -> std::vector<json> {
      if (m.value("method", "") == "tools/call") {
        std::lock_guard lock(ids_mutex);
        call_ids.push_back(m["id"]);
        return {};
      }
      return base(m);
    };
    auto client = client_for(fake, {.elicitation = true});
    client->initialize();
    std::atomic<int> asked_a{0}, asked_b{0};
    const auto elicitor = [](std::atomic<int>& asked) {
      return [&asked](const json&, std::stop_token) {
        ++asked;
        return json{{"action", "accept"}, {"content", json::object()}};
      };
    };
    std::thread a([&] {
      CHECK_THROWS(client->call_tool("a", json::object(), std::chrono::milliseconds(1500), {}, {},
                                     elicitor(asked_a)));
    });
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(ids_mutex);
        if (call_ids.size() == 1) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::thread b([&] {
      CHECK_THROWS(client->call_tool("b", json::object(), std::chrono::milliseconds(1500), {}, {},
                                     elicitor(asked_b)));
    });
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(ids_mutex);
        if (call_ids.size() == 2) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    json first, second;
    {
      std::lock_guard lock(ids_mutex);
      REQUIRE(call_ids.size() == 2);
      first = call_ids[0];
      second = call_ids[1];
    }
    // On the first call's stream (the older one): its user is asked, not the newest call's.
    fake->sink({{"jsonrpc", "2.0"}, {"id", "q1"}, {"method", "elicitation/create"},
                {"params", {{"message", "?"}, {"requestedSchema", {{"type", "object"}}}}}},
               first);
    // No stream (stdio) with two calls in flight: whose question it is cannot be told; declined.
    fake->sink({{"jsonrpc", "2.0"}, {"id", "q2"}, {"method", "elicitation/create"},
                {"params", {{"message", "?"}, {"requestedSchema", {{"type", "object"}}}}}});
    const auto answers = fake->answers(2);
    CHECK(answers.at("q1")["result"]["action"] == "accept");
    CHECK(answers.at("q2")["result"] == json{{"action", "decline"}});
    CHECK(asked_a == 1);
    CHECK(asked_b == 0);
    a.join();
    b.join();
  }

  TEST_CASE("elicitation: a hostile requestedSchema is reduced to the flat subset (no pattern)") {
    const json hostile = {
        {"type", "object"},
        {"properties",
         {{"name", {{"type", "string"}, {"pattern", "^(a+)+$"}, {"maxLength", 1000000000}, {"default", "x"}}},
          {"age", {{"type", "integer"}, {"minimum", 0}, {"default", "not a number"}}},
          {"deep", {{"type", "object"}, {"properties", {{"x", {{"type", "string"}}}}}}},
          {"kind", {{"type", "string"}, {"enum", {"a", "b"}}, {"format", "regex"}}}}},
        {"required", {"name", "deep"}},
        {"$defs", {{"x", {{"type", "string"}}}}}};
    const auto flat = mcp::elicitation_schema(hostile);
    CHECK(flat["properties"]["name"] == json{{"type", "string"}, {"maxLength", 16384}, {"default", "x"}});
    CHECK(flat["properties"]["age"] == json{{"type", "integer"}, {"minimum", 0}});
    CHECK_FALSE(flat["properties"].contains("deep"));
    CHECK(flat["properties"]["kind"] == json{{"type", "string"}, {"enum", {"a", "b"}}, {"maxLength", 16384}});
    CHECK(flat["required"] == json::array({"name"}));
    CHECK_FALSE(flat.contains("$defs"));
    CHECK(mcp::elicitation_schema(json("x")) == json{{"type", "object"}, {"properties", json::object()}});
  }

  TEST_CASE("oauth: credentials are sealed with AES-256-GCM and open only under their key") {
    std::array<unsigned char, 32> key{}, other{};
    key[0] = 1;
    other[0] = 2;
    const std::string plain = R"({"access_token":"tok","refresh_token":"ref"})";
    const auto sealed = mcp::oauth::seal(key, plain);
    CHECK(sealed.rfind("v1:", 0) == 0);
    CHECK(sealed.find("tok") == std::string::npos);
    CHECK(mcp::oauth::seal(key, plain) != sealed); // a fresh nonce each time
    CHECK(mcp::oauth::unseal(key, sealed) == std::optional<std::string>(plain));
    CHECK_FALSE(mcp::oauth::unseal(other, sealed).has_value());
    auto altered = sealed;
    altered[10] = altered[10] == 'A' ? 'B' : 'A';
    CHECK_FALSE(mcp::oauth::unseal(key, altered).has_value());
    CHECK_FALSE(mcp::oauth::unseal(key, "v1:").has_value());
    // The row key is authenticated: a value copied to another row does not open there.
    const auto bound = mcp::oauth::seal(key, plain, "agent\nfx\nhttps://a/mcp");
    CHECK(mcp::oauth::unseal(key, bound, "agent\nfx\nhttps://a/mcp") == std::optional<std::string>(plain));
    CHECK_FALSE(mcp::oauth::unseal(key, bound, "agent\nfx\nhttps://b/mcp").has_value());
    CHECK_FALSE(mcp::oauth::unseal(key, bound).has_value());
    // The key: HEARTH_CREDENTIALS_KEY, else a 0600 file made once and read after.
    TempProject tmp;
    const auto file = tmp.root() / "state" / "credentials.key";
    const auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    const auto made = mcp::oauth::credentials_key(none, file);
    CHECK(mcp::oauth::credentials_key(none, file) == made);
    CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_read) ==
          std::filesystem::perms::none);
    const auto hex = [](const std::string&) -> std::optional<std::string> { return std::string(64, 'a'); };
    CHECK(mcp::oauth::credentials_key(hex, file)[5] == 0xaa);
    const auto bad = [](const std::string&) -> std::optional<std::string> { return std::string("xyz"); };
    CHECK_THROWS_AS(mcp::oauth::credentials_key(bad, file), Error);
  }

  TEST_CASE("a message that is not JSON-RPC closes the session and fails pending calls") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    fake->respond = [base](const json& m) -> std::vector<json> {
      if (m.value("method", "") == "tools/call") return {json{{"hello", "world"}}};
      return base(m);
    };
    auto client = client_for(fake);
    client->initialize();
    CHECK_THROWS_WITH_AS(client->call_tool("x", json::object(), std::chrono::seconds(5)),
                         doctest::Contains("broke the MCP protocol"), Error);
    CHECK_FALSE(client->alive());
    CHECK_THROWS_AS(client->ping(), Error);
  }

  TEST_CASE("no message a server sends can pose as a transport error or throw out of the sink") {
    auto fake = std::make_shared<Fake>();
    fake->respond = server("2025-11-25");
    auto client = client_for(fake);
    client->initialize();
    // An in-band key once meant "protocol error": a number there threw json::type_error out of
    // the reader thread (std::terminate), a string closed the session with the server's words.
    CHECK_NOTHROW(client->handle_message(
        {{"jsonrpc", "2.0"}, {"method", "notifications/x"}, {"hearth.protocolError", 1}}));
    CHECK_NOTHROW(client->handle_message(
        {{"jsonrpc", "2.0"}, {"method", "notifications/x"}, {"hearth.protocolError", "spoofed"}}));
    CHECK(client->alive());
    CHECK_NOTHROW(client->handle_message({{"hearth.protocolError", 1}}));
    CHECK_FALSE(client->alive()); // not JSON-RPC: closed, but with hearth's own reason
    CHECK(client->close_reason().find("not a JSON-RPC") != std::string::npos);
    // Transport errors arrive out of band.
    auto fake2 = std::make_shared<Fake>();
    fake2->respond = server("2025-11-25");
    auto client2 = client_for(fake2);
    client2->initialize();
    fake2->failed("a line larger than 8 MiB");
    CHECK_FALSE(client2->alive());
    CHECK(client2->close_reason() == "a line larger than 8 MiB");
  }

  TEST_CASE("a progress handler never runs after its request returned (timeout)") {
    auto fake = std::make_shared<Fake>();
    auto base = server("2025-11-25");
    std::thread notifier;
    json token;
    fake->respond = [&, base](const json& m) -> std::vector<json> {
      if (m.value("method", "") != "tools/call") return base(m);
      token = m["params"]["_meta"]["progressToken"];
      notifier = std::thread([&] {
        fake->sink({{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
                    {"params", {{"progressToken", token}, {"progress", 1}}}});
      });
      return {};
    };
    auto client = client_for(fake);
    client->initialize();
    std::atomic<bool> inside{false}, finished{false};
    std::atomic<int> calls{0};
    CHECK_THROWS_WITH_AS(
        client->call_tool("slow", json::object(), std::chrono::milliseconds(100), {},
                          [&](const json&) {
                            ++calls;
                            inside = true;
                            std::this_thread::sleep_for(std::chrono::milliseconds(400));
                            finished = true;
                          }),
        doctest::Contains("within 100 ms"), Error);
    // The handler (which captures this frame) had started: request() waited for it to end.
    if (inside) CHECK(finished);
    notifier.join();
    CHECK(calls == 1);
    client->handle_message({{"jsonrpc", "2.0"}, {"method", "notifications/progress"},
                            {"params", {{"progressToken", token}, {"progress", 2}}}});
    CHECK(calls == 1);
  }

  TEST_CASE("the SSE parser keeps the last valid retry field (Streamable HTTP resumption)") {
    int events = 0;
    providers::SseParser parser([&](const providers::SseEvent&) { ++events; });
    CHECK(parser.retry_ms() == -1);
    parser.feed("id: e1\nretry: 1500\ndata: x\n\n");
    CHECK(parser.retry_ms() == 1500);
    parser.feed("retry: soon\n\nretry: 1234567890123\n\n");
    CHECK(parser.retry_ms() == 1500);
    CHECK(events == 1);
  }

  TEST_CASE("tool names: provider charset and length, distinct after sanitizing") {
    CHECK(mcp::tool_name("fs", "read_file") == "connection__fs__read_file");
    const auto weird = mcp::tool_name("fs", "weird.name/x");
    CHECK(weird.rfind("connection__fs__weird_name_x_", 0) == 0);
    CHECK(weird != mcp::tool_name("fs", "weird_name_x"));
    const auto long_name = mcp::tool_name("fs", std::string(200, 'a'));
    CHECK(long_name.size() == mcp::k_max_tool_name);
    CHECK(long_name != mcp::tool_name("fs", std::string(201, 'a')));
    for (const char c : long_name + weird) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'));
  }

  TEST_CASE("tools.allow and tools.block, with prefix patterns") {
    CHECK(mcp::tool_allowed("read", {}, {}));
    CHECK_FALSE(mcp::tool_allowed("write", {"read", "list_*"}, {}));
    CHECK(mcp::tool_allowed("list_dirs", {"read", "list_*"}, {}));
    CHECK_FALSE(mcp::tool_allowed("delete_all", {}, {"delete_*"}));
  }

  TEST_CASE("results: text, image, resource, link, structuredContent and isError") {
    const json result = {
        {"content", {{{"type", "text"}, {"text", "hello"}},
                     {{"type", "image"}, {"data", "aGVsbG8="}, {"mimeType", "image/png"}},
                     {{"type", "resource"}, {"resource", {{"uri", "file:///a"}, {"text", "inside"}}}},
                     {{"type", "resource_link"}, {"uri", "file:///b"}, {"name", "b"}}}},
        {"structuredContent", {{"x", 1}}}};
    const auto outcome = mcp::outcome_of("c", "t", result);
    CHECK_FALSE(outcome.is_error);
    CHECK(outcome.text.find("hello") != std::string::npos);
    CHECK(outcome.text.find("[image: image/png") != std::string::npos);
    CHECK(outcome.text.find("inside") != std::string::npos);
    CHECK(outcome.text.find("[resource link file:///b \"b\"]") != std::string::npos);
    CHECK(outcome.details["mcp"]["structuredContent"]["x"] == 1);
    const auto structured = mcp::outcome_of("c", "t", {{"content", json::array()}, {"structuredContent", {{"sum", 3}}}});
    CHECK(structured.text == "{\"sum\":3}");
    CHECK(mcp::outcome_of("c", "t", {{"content", {{{"type", "text"}, {"text", "no"}}}}, {"isError", true}}).is_error);
    // What reaches the model and the stored event stays bounded.
    const auto huge = mcp::outcome_of(
        "c", "t", {{"content", {{{"type", "text"}, {"text", std::string(300'000, 'x')}}}},
                   {"structuredContent", {{"big", std::string(300'000, 'y')}}}});
    CHECK(huge.text.size() < 70'000);
    CHECK(huge.details["mcp"]["content"][0]["text"].get<std::string>().size() < 70'000);
    CHECK(huge.details["mcp"]["structuredContent"].is_string());
    // Many items, each under its own cap: the whole is capped too.
    json many = {{"content", json::array()}};
    for (int i = 0; i < 64; ++i) many["content"].push_back({{"type", "text"}, {"text", std::string(60'000, 'z')}});
    const auto capped = mcp::outcome_of("c", "t", many);
    CHECK(dump_json(capped.details).size() < 600'000);
  }

  TEST_CASE("the pool starts a stdio server lazily, restarts it after it dies mid-call") {
    const std::string fixture = HEARTH_SOURCE_DIR "/tests/e2e/fixtures/mcp_server.py";
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "fx"}, {"command", "python3"}, {"args", {fixture}},
                                         {"tools", {{"block", {"fail"}}}}},
                                   std::filesystem::temp_directory_path()),
             policy);
    CHECK(pool.state()[0]["state"] == "idle");
    const auto tools = pool.tools("a", "fx");
    CHECK(tools.size() == 12); // 13 listed over 5 pages, `fail` blocked
    CHECK(pool.state()[0]["state"] == "ready");
    const auto echo = pool.call("a", "fx", "echo", {{"text", "hi"}});
    CHECK(echo["content"][0]["text"] == "echo: hi");
    CHECK_THROWS_WITH_AS(pool.call("a", "fx", "fail", json::object()), doctest::Contains("no tool"), Error);
    const auto pid1 = pool.call("a", "fx", "pid", json::object())["content"][0]["text"].get<std::string>();
    try {
      pool.call("a", "fx", "crash", json::object());
      FAIL("the crash returned");
    } catch (const Error& e) {
      CHECK(e.info().type == "mcp_closed");
      // Its stderr goes to the runtime log only, never into what the model reads.
      CHECK(e.info().message.find("crashing on purpose") == std::string::npos);
      CHECK(e.info().message.find("runtime log") != std::string::npos);
    }
    const auto pid2 = pool.call("a", "fx", "pid", json::object())["content"][0]["text"].get<std::string>();
    CHECK(pid1 != pid2);
    CHECK(pool.state()[0]["restarts"] == 1);
    pool.shutdown();
    CHECK(::kill(std::stoi(pid2), 0) != 0); // stopped, no orphan
  }

  TEST_CASE("cancelling a stdio call returns at once and the server sees notifications/cancelled") {
    const std::string fixture = HEARTH_SOURCE_DIR "/tests/e2e/fixtures/mcp_server.py";
    const auto log = std::filesystem::temp_directory_path() /
                     ("mcp-cancel-" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(log);
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "fx"}, {"command", "python3"},
                                         {"args", {fixture, "--log", log.string()}}},
                                   std::filesystem::temp_directory_path()),
             policy);
    pool.tools("a", "fx");
    std::stop_source stop;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      stop.request_stop();
    });
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH_AS(pool.call("a", "fx", "slow", {{"ms", 10'000}}, stop.get_token()),
                         doctest::Contains("cancelled"), Error);
    canceller.join();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(pool.call("a", "fx", "echo", {{"text", "still"}})["content"][0]["text"] == "echo: still");
    bool seen = false;
    for (int i = 0; i < 50 && !seen; ++i) {
      std::ifstream in(log);
      for (std::string line; std::getline(in, line);)
        seen = seen || line.find("cancelledSeen") != std::string::npos;
      if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(seen);
    pool.shutdown();
    std::filesystem::remove(log);
  }

  TEST_CASE("a stdio server that stops reading its stdin cannot block a call past its timeout") {
    const std::string fixture = HEARTH_SOURCE_DIR "/tests/e2e/fixtures/mcp_server.py";
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "fx"}, {"command", "python3"}, {"args", {fixture}},
                                         {"timeoutMs", 1000}},
                                   std::filesystem::temp_directory_path()),
             policy);
    pool.tools("a", "fx");
    std::thread deaf([&] { CHECK_THROWS_AS(pool.call("a", "fx", "deaf", json::object()), Error); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(pool.call("a", "fx", "echo", {{"text", std::string(2u << 20, 'x')}}), Error);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    deaf.join();
    pool.shutdown();
  }

  TEST_CASE("shutdown does not wait for an eager start on a server that never answers initialize") {
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "mute"}, {"command", "sleep"}, {"args", {"30"}},
                                         {"eager", true}},
                                   std::filesystem::temp_directory_path()),
             policy);
    pool.start_eager();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto started = std::chrono::steady_clock::now();
    pool.shutdown();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  }

  TEST_CASE("openapi: operations, parameters, bodies, cyclic $refs bounded, allow/block") {
    const json spec = {
        {"openapi", "3.1.0"},
        {"paths",
         {{"/nodes/{id}",
           {{"parameters", {{{"name", "id"}, {"in", "path"}, {"schema", {{"type", "string"}}}}}},
            {"get", {{"summary", "A node."}}},
            {"put", {{"operationId", "put node!"},
                     {"requestBody", {{"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Node"}}}}}}}}}}}}}}},
        {"components",
         {{"schemas", {{"Node", {{"type", "object"}, {"properties", {{"child", {{"$ref", "#/components/schemas/Node"}}}}}}}}}}}};
    const auto ops = mcp::openapi::operations("c", spec, {}, {});
    REQUIRE(ops.size() == 2);
    CHECK(ops[0].name == "get_nodes_id");
    CHECK(ops[0].input_schema["required"] == json{"id"});
    CHECK(ops[1].name == "put_node");
    CHECK(ops[1].has_body);
    // The cycle is cut: a finite schema, `child` nested at most the ref depth.
    const auto text = ops[1].input_schema.dump();
    CHECK(text.size() < 100'000);
    CHECK(text.find("$ref") == std::string::npos);
    CHECK(mcp::openapi::operations("c", spec, {"put_*"}, {}).size() == 1);
    CHECK_THROWS_WITH_AS(mcp::openapi::operations("c", {{"swagger", "2.0"}}, {}, {}),
                         doctest::Contains("OpenAPI 3"), Error);
  }

  TEST_CASE("openapi: a spec with values of the wrong type is a config error, never a type_error") {
    const json spec = json::parse(R"({"openapi": "3.0.0", "paths": {
      "/a": {"post": {"operationId": "a", "requestBody": "oops"}},
      "/b": {"post": {"operationId": "b", "requestBody": {"content": {"application/json": 5}, "required": true}}},
      "/c": {"post": {"operationId": "c", "requestBody": {"content": {"application/json": {"schema": "x"}}}}}}})");
    std::vector<mcp::openapi::Operation> ops;
    try {
      ops = mcp::openapi::operations("api", spec, {}, {});
    } catch (const Error& e) {
      CHECK(e.info().type == "mcp_config_invalid");
    }
    for (const auto& op : ops) CHECK(op.input_schema.is_object());
  }

  TEST_CASE("openapi: $refs cannot multiply a small spec past the schema byte budget") {
    json spec = json::parse(R"({"openapi": "3.0.0", "components": {"schemas": {}},
      "paths": {"/a": {"post": {"operationId": "a", "requestBody": {"content": {"application/json":
        {"schema": {"$ref": "#/components/schemas/L3"}}}}}}}})");
    spec["components"]["schemas"]["L0"] = {{"type", "string"}, {"description", std::string(2000, 'd')}};
    for (int level = 1; level <= 3; ++level) { // each level: 8 refs to the one below (512 x 2 KB)
      json props = json::object();
      for (int i = 0; i < 8; ++i)
        props["p" + std::to_string(i)] = {{"$ref", "#/components/schemas/L" + std::to_string(level - 1)}};
      spec["components"]["schemas"]["L" + std::to_string(level)] = {{"type", "object"}, {"properties", props}};
    }
    CHECK(dump_json(spec).size() < 20'000);
    CHECK_THROWS_WITH_AS(mcp::openapi::operations("api", spec, {}, {}), doctest::Contains("larger than"), Error);
  }

  TEST_CASE("oauth: WWW-Authenticate parameters, quoted or not, whole names only") {
    const std::string challenge =
        "Bearer error=\"insufficient_scope\", scope=\"mcp:basic mcp:write\", "
        "resource_metadata=\"https://x/.well-known/oauth-protected-resource\", realm=r1";
    CHECK(mcp::oauth::challenge_param(challenge, "scope") == "mcp:basic mcp:write");
    CHECK(mcp::oauth::challenge_param(challenge, "resource_metadata") ==
          "https://x/.well-known/oauth-protected-resource");
    CHECK(mcp::oauth::challenge_param(challenge, "realm") == "r1");
    CHECK(mcp::oauth::challenge_param(challenge, "metadata").empty());
    CHECK(mcp::oauth::challenge_param("Bearer", "scope").empty());
  }

  TEST_CASE("a server that cannot start backs off") {
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "bad"}, {"command", "false"}},
                                   std::filesystem::temp_directory_path()),
             policy);
    CHECK_THROWS_WITH_AS(pool.tools("a", "bad"), doctest::Contains("could not start"), Error);
    try {
      pool.tools("a", "bad");
      FAIL("no back-off");
    } catch (const Error& e) {
      CHECK(e.info().type == "mcp_backing_off");
    }
    CHECK(pool.state()[0]["state"] == "failed");
  }

  TEST_CASE("turn tools come from the cached list: building a turn starts nothing") {
    const std::string fixture = HEARTH_SOURCE_DIR "/tests/e2e/fixtures/mcp_server.py";
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "fx"}, {"command", "python3"}, {"args", {fixture}}},
                                   std::filesystem::temp_directory_path()),
             policy);
    auto offered = mcp::connection_tools(pool, "a");
    REQUIRE(offered.size() == 1); // never listed: only the search, nothing started
    CHECK(offered[0].name == "connection__search");
    CHECK(offered[0].description.find("fx") != std::string::npos);
    CHECK(pool.state()[0]["state"] == "idle");
    // The first call of one of its tools starts it (a tool that was not on offer).
    auto echo = mcp::resolve_tool(pool, "a", "connection__fx__echo");
    REQUIRE(echo);
    CHECK(pool.state()[0]["state"] == "ready");
    CHECK_FALSE(mcp::resolve_tool(pool, "a", "connection__fx__nope"));
    CHECK_FALSE(mcp::resolve_tool(pool, "a", "connection__other__echo"));
    offered = mcp::connection_tools(pool, "a");
    CHECK(offered.size() == 14); // 13 cached + search
    // Above the threshold: the search and what it found in this session only.
    offered = mcp::connection_tools(pool, "a", {.session = "s1", .threshold = 5});
    CHECK(offered.size() == 1);
    auto search = offered[0];
    runtime::ToolContext ctx{.session_id = "s1"};
    const auto found = search.run({{"query", "echo"}}, ctx);
    CHECK(found.text.find("connection__fx__echo") != std::string::npos);
    offered = mcp::connection_tools(pool, "a", {.session = "s1", .threshold = 5});
    REQUIRE(offered.size() == 2);
    CHECK(offered[0].name == "connection__fx__echo");
    CHECK(mcp::connection_tools(pool, "a", {.session = "s2", .threshold = 5}).size() == 1);
    // The cache outlives the server: a dead server still offers its tools without a restart.
    pool.shutdown();
    CHECK(mcp::connection_tools(pool, "a").size() == 14);
  }

  TEST_CASE("a hung server never blocks building a turn; its tools fail within timeoutMs") {
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    pool.add(mcp::parse_connection("a", {{"name", "mute"}, {"command", "sleep"}, {"args", {"30"}},
                                         {"timeoutMs", 500}, {"approval", "always"}},
                                   std::filesystem::temp_directory_path()),
             policy);
    auto started = std::chrono::steady_clock::now();
    CHECK(mcp::connection_tools(pool, "a").size() == 1);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(200));
    CHECK(mcp::connection_approval(pool, "a", "connection__mute__x") == "always");
    CHECK(mcp::connection_approval(pool, "a", "connection__other__x").empty());
    started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(mcp::resolve_tool(pool, "a", "connection__mute__x"), Error);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(8)); // 5 s start bound
    // Then it backs off: the next use fails at once.
    started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(mcp::resolve_tool(pool, "a", "connection__mute__x"), Error);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(200));
    pool.shutdown();
  }

  TEST_CASE("two agents' connections of the same name are distinct pool entries") {
    mcp::Pool pool({.project_root = std::filesystem::temp_directory_path()});
    sandbox::Policy policy;
    policy.settings.backend = "none";
    auto one = mcp::parse_connection("helper", {{"name", "c"}, {"command", "true"}},
                                     std::filesystem::temp_directory_path());
    one.agent_id = mcp::agent_key("helper", "/p/agents/a/subagents/helper");
    auto two = mcp::parse_connection("helper", {{"name", "c"}, {"command", "false"}},
                                     std::filesystem::temp_directory_path());
    two.agent_id = mcp::agent_key("helper", "/p/agents/b/subagents/helper");
    pool.add(one, policy);
    pool.add(two, policy);
    CHECK(pool.state().size() == 2);
    CHECK(pool.config(one.agent_id, "c").argv[0] == "true");
    CHECK(pool.config(two.agent_id, "c").argv[0] == "false");
    CHECK(pool.of_agent(one.agent_id).size() == 1);
    CHECK(pool.agent_id("helper") == one.agent_id);
  }

  TEST_CASE("openapi: a YAML spec is read, with its size bounds") {
    const auto dir = std::filesystem::temp_directory_path() / ("mcp-yaml-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
      std::ofstream(dir / "pets.yaml") << "openapi: 3.0.0\n"
                                          "info: {title: Pets, version: '1'}\n"
                                          "servers:\n  - url: http://127.0.0.1:9/v1\n"
                                          "paths:\n"
                                          "  /pets/{id}:\n"
                                          "    get:\n"
                                          "      operationId: getPet\n"
                                          "      summary: One pet.\n"
                                          "      parameters:\n"
                                          "        - {name: id, in: path, required: true, schema: {type: integer}}\n";
      // a billion laughs: aliases that expand far past the node bound
      std::ofstream bomb(dir / "bomb.yaml");
      bomb << "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
      for (char c = 'b'; c <= 'k'; ++c)
        bomb << c << ": &" << c << " [*" << char(c - 1) << ", *" << char(c - 1) << ", *" << char(c - 1)
             << ", *" << char(c - 1) << ", *" << char(c - 1) << ", *" << char(c - 1) << ", *"
             << char(c - 1) << ", *" << char(c - 1) << ", *" << char(c - 1) << ", *" << char(c - 1) << "]\n";
    }
    mcp::Pool pool({.project_root = dir});
    pool.add(mcp::parse_connection("a", {{"name", "pets"}, {"type", "openapi"}, {"spec", "pets.yaml"}}, dir), {});
    pool.add(mcp::parse_connection("a", {{"name", "bomb"}, {"type", "openapi"}, {"spec", "bomb.yaml"}}, dir), {});
    const auto tools = pool.tools("a", "pets");
    REQUIRE(tools.size() == 1);
    CHECK(tools[0].name == "getPet");
    CHECK(tools[0].input_schema["properties"].contains("id"));
    CHECK_THROWS_WITH_AS(pool.tools("a", "bomb"), doctest::Contains("too many nodes"), Error);
    std::filesystem::remove_all(dir);
  }
}

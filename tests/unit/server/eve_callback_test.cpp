// Eve 0.80.1 session callbacks (server/eve_callback.hpp): validation as Eve words it, the hosts
// it refuses, and the bodies it posts.
#include "core/error.hpp"
#include "server/eve_callback.hpp"

#include <doctest/doctest.h>

using nlohmann::json;
using hearth::server::parse_eve_callback;

namespace {
json cb(const std::string& url, const std::string& token = "t") {
  return {{"callId", "c"}, {"subagentName", "s"}, {"token", token}, {"url", url}};
}
std::string problem(const json& value) {
  try {
    parse_eve_callback(value);
  } catch (const hearth::Error& e) {
    CHECK(e.info().http_status == 400);
    return e.info().message;
  }
  return "";
}
} // namespace

TEST_SUITE("server") {
  TEST_CASE("a session callback is validated as Eve 0.80.1 validates it") {
    CHECK(problem(cb("http://127.0.0.1:9/eve/v1/callback/t")).empty()); // loopback is allowed
    CHECK(problem(cb("http://[::1]:9/eve/v1/callback/t")).empty());
    CHECK(problem(cb("https://parent.example/eve/my-agent/v1/callback/a%20b", "a b")).empty());
    CHECK(problem(cb("https://parent.example/base/eve/v1/callback/t?x=1")).empty());
    CHECK(problem(json{{"callId", "c"}}) ==
          "Invalid callback metadata: callback.subagentName: Invalid input: expected string, "
          "received undefined; callback.token: Invalid input: expected string, received undefined; "
          "callback.url: Invalid input: expected string, received undefined");
    CHECK(problem(json{{"callId", 1}, {"subagentName", "s"}, {"token", "t"}, {"url", "u"}, {"a", 1}, {"b", 2}}) ==
          "Invalid callback metadata: callback.callId: Invalid input: expected string, received "
          "number; callback: Unrecognized keys: \"a\", \"b\"");
    const std::string reserved =
        "Invalid callback metadata: callback.url: Callback url host must not be a private or reserved address.";
    for (const char* host : {"10.1.2.3", "192.168.0.1", "169.254.169.254", "0.0.0.0", "[fe80::1]",
                             "[::ffff:10.0.0.1]", "[fd00::1]", "167772161" /* 10.0.0.1 */})
      CHECK(problem(cb(std::string("http://") + host + "/eve/v1/callback/t")) == reserved);
    CHECK(problem(cb("http://10.0.0.1/eve/v1/callback/u")) ==
          "Invalid callback metadata: callback.url: Callback url token must match callback token.; "
          "callback.url: Callback url host must not be a private or reserved address.");
    CHECK(problem(cb("http://u:p@example.com/eve/v1/callback/t")) ==
          "Invalid callback metadata: callback.url: Callback url must not carry user info.");
    CHECK(problem(cb("/eve/v1/callback/t")) ==
          "Invalid callback metadata: callback.url: Callback url must be absolute.");
    CHECK(problem(cb("http://example.com/eve/v1/callback/t/x")) ==
          "Invalid callback metadata: callback.url: Callback url token must match callback token.");
    CHECK(problem(cb("http://example.com/eve/v1/callback/" + std::string(3000, 't'), std::string(3000, 't')))
              .find("Too big") != std::string::npos);
  }

  TEST_CASE("callback bodies are Eve's turn.completed and turn.failed") {
    using hearth::server::SettledTurn;
    const json c = cb("http://127.0.0.1/eve/v1/callback/t");
    const json done = hearth::server::eve_callback_body(
        c, "wrun_1", {.output = {{"ok", true}}, .usage = {{"input", 5}, {"output", 2}}});
    CHECK(done == json::parse(R"({"callId":"c","kind":"turn.completed","output":{"ok":true},
      "outcome":{"kind":"parked","result":{"kind":"succeeded","output":{"ok":true}},
      "usageDelta":{"cacheReadTokens":0,"cacheWriteTokens":0,"inputTokens":5,"outputTokens":2}},
      "sessionId":"wrun_1","subagentName":"s"})"));
    const json failed = hearth::server::eve_callback_body(
        c, "wrun_1", {.kind = SettledTurn::Kind::failed, .message = "boom"});
    CHECK(failed["kind"] == "turn.failed");
    CHECK(failed["error"] == json({{"code", "SUBAGENT_EXECUTION_FAILED"}, {"message", "boom"}}));
    CHECK(failed["outcome"]["result"] == json({{"error", failed["error"]}, {"kind", "failed"}}));
    CHECK_FALSE(failed.contains("output"));
    const json cancelled = hearth::server::eve_callback_body(c, "wrun_1", {.kind = SettledTurn::Kind::cancelled});
    CHECK(cancelled["error"]["message"] == "The agent invocation was cancelled.");
    CHECK(cancelled["outcome"]["result"] == json({{"kind", "cancelled"}}));
  }
}

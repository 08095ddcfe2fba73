// Eve 0.80.1 session callbacks (server/eve_callback.hpp): validation as Eve words it, the hosts
// it refuses, and the bodies it posts.
#include "core/error.hpp"
#include "server/eve_callback.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <thread>

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

  TEST_CASE("the sender retries 5xx, never follows a redirect, and bounds a slow receiver") {
    httplib::Server server;
    std::atomic<int> flaky{0}, moved{0}, elsewhere{0}, slow{0};
    server.Post("/eve/v1/callback/flaky", [&](const httplib::Request&, httplib::Response& res) {
      res.status = ++flaky < 3 ? 503 : 200;
    });
    server.Post("/eve/v1/callback/moved", [&](const httplib::Request&, httplib::Response& res) {
      ++moved;
      res.status = 302;
      res.set_header("Location", "/elsewhere");
    });
    server.Get("/elsewhere", [&](const httplib::Request&, httplib::Response&) { ++elsewhere; });
    server.Post("/elsewhere", [&](const httplib::Request&, httplib::Response&) { ++elsewhere; });
    server.Post("/eve/v1/callback/slow", [&](const httplib::Request&, httplib::Response& res) {
      ++slow;
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      res.status = 200;
    });
    const int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread thread([&] { server.listen_after_bind(); });
    const auto url = [&](const std::string& t) {
      return "http://127.0.0.1:" + std::to_string(port) + "/eve/v1/callback/" + t;
    };
    {
      hearth::server::CallbackSender sender({.max_queue = 2, .attempts = 3,
                                             .total = std::chrono::milliseconds(300),
                                             .first_backoff = std::chrono::milliseconds(10)});
      CHECK(sender.push(url("slow"), json::object()));
      for (int i = 0; i < 500 && slow == 0; ++i) // the worker has taken it
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      CHECK(sender.push(url("moved"), json::object()));
      CHECK(sender.push(url("flaky"), json::object()));
      CHECK_FALSE(sender.push(url("flaky"), json::object())); // the queue holds 2 while one runs
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (flaky < 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server.stop();
    thread.join();
    CHECK(slow == 3);      // cut at 300 ms each (the receiver takes 1.5 s), retried
    CHECK(moved == 1);     // a 3xx is final
    CHECK(elsewhere == 0); // and never followed
    CHECK(flaky == 3);     // 503, 503, 200
  }
}

// Eve 0.80.1 session callbacks (server/eve_callback.hpp): validation as Eve words it, the hosts
// it refuses, and the bodies it posts.
#include "core/error.hpp"
#include "server/eve_callback.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

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

  TEST_CASE("a callback URL with a NUL, a control byte or a non-ASCII host is refused") {
    const std::string controls =
        "Invalid callback metadata: callback.url: Callback url must not contain spaces or control characters.";
    using namespace std::string_literals;
    CHECK(problem(cb("http://10.0.0.1\0/eve/v1/callback/t"s)) == controls); // before: accepted
    CHECK(problem(cb("http://10.0.0.1\0.example/eve/v1/callback/t"s)) == controls);
    CHECK(problem(cb("http://example.com/x\r\nhearth: forged/eve/v1/callback/t")) == controls);
    CHECK(problem(cb("http://example.com\t/eve/v1/callback/t")) == controls);
    CHECK(problem(cb("http://example.com/a b/eve/v1/callback/t")) == controls);
    CHECK(problem(cb("http://example.com/\x7f/eve/v1/callback/t")) == controls);
    CHECK(problem(cb("http://b\xc3\xbc" "cher.example/eve/v1/callback/t")) ==
          "Invalid callback metadata: callback.url: Callback url host must be ASCII (punycode).");
    CHECK(problem(cb("http://10.0.0.1%00/eve/v1/callback/t")) ==
          "Invalid callback metadata: callback.url: Callback url must be absolute.");
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

namespace {
using hearth::server::CallbackSender;
using Clock = std::chrono::steady_clock;

/// Waits (at most `limit`) until `done()`.
template <class F> bool wait_until(F done, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto end = Clock::now() + limit;
  while (!done() && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}

/// A resolver owning nothing: test names to fixed addresses.
std::vector<std::string> test_names(const std::string& host) {
  if (host == "meta.example") return {"169.254.169.254"};
  if (host == "mapped.example") return {"::ffff:a9fe:a9fe"}; // 169.254.169.254, IPv4-mapped
  if (host == "mixed.example") return {"127.0.0.1", "10.0.0.1"};
  if (host == "hang.example") {
    std::this_thread::sleep_for(std::chrono::seconds(20));
    return {"127.0.0.1"};
  }
  if (host == "nowhere.example") return {};
  return {"127.0.0.1"}; // cb.example, slow.example, fast.example
}

struct Outcomes {
  std::mutex mutex;
  std::map<std::string, CallbackSender::Outcome> by_key;
  CallbackSender::Done hook() {
    return [this](const std::string& key, CallbackSender::Outcome o) {
      std::lock_guard lock(mutex);
      by_key[key] = o;
    };
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return by_key.size();
  }
  std::optional<CallbackSender::Outcome> of(const std::string& key) {
    std::lock_guard lock(mutex);
    const auto it = by_key.find(key);
    return it == by_key.end() ? std::nullopt : std::optional(it->second);
  }
};
} // namespace

TEST_SUITE("server") {
  TEST_CASE("IPv6 literals other than [::1] and IPv4-mapped spellings of reserved addresses are refused") {
    CHECK(problem(cb("http://[::ffff:a00:1]/eve/v1/callback/t")) == // 10.0.0.1; before: accepted
          "Invalid callback metadata: callback.url: Callback url host must not be a private or reserved address.");
    CHECK(problem(cb("http://[::ffff:7f00:1]/eve/v1/callback/t")) == // loopback, but httplib cannot reach it
          "Invalid callback metadata: callback.url: Callback url host must be a name, an IPv4 address or [::1].");
    CHECK(problem(cb("http://[2606:4700::abcd]/eve/v1/callback/t")) == // before: accepted, never delivered
          "Invalid callback metadata: callback.url: Callback url host must be a name, an IPv4 address or [::1].");
    CHECK(problem(cb("http://[::1]:9/eve/v1/callback/t")).empty());
  }

  TEST_CASE("the sender resolves a name itself, refuses reserved answers and connects to that address") {
    httplib::Server server;
    std::mutex mutex;
    std::vector<std::string> hosts;
    server.Post("/eve/v1/callback/t", [&](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      hosts.push_back(req.get_header_value("Host"));
      res.status = 200;
    });
    const int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread thread([&] { server.listen_after_bind(); });
    const auto url = [&](const std::string& host) {
      return "http://" + host + ":" + std::to_string(port) + "/eve/v1/callback/t";
    };
    Outcomes outcomes;
    {
      CallbackSender sender({.first_backoff = std::chrono::milliseconds(10)}, outcomes.hook(), test_names);
      for (const char* host : {"meta.example", "mapped.example", "mixed.example", "cb.example"})
        CHECK(sender.push(url(host), json::object(), host));
      CHECK(wait_until([&] { return outcomes.size() == 4; }));
    }
    server.stop();
    thread.join();
    using O = CallbackSender::Outcome;
    CHECK(outcomes.of("meta.example") == O::failed); // before: posted (to the metadata service)
    CHECK(outcomes.of("mapped.example") == O::failed);
    CHECK(outcomes.of("mixed.example") == O::failed); // any reserved answer refuses the name
    CHECK(outcomes.of("cb.example") == O::sent);
    REQUIRE(hosts.size() == 1);
    CHECK(hosts[0] == "cb.example:" + std::to_string(port)); // the URL's Host, the checked address
  }

  TEST_CASE("a slow, failing receiver does not hold other hosts' callbacks") {
    httplib::Server server;
    std::atomic<int> slow{0}, fast{0};
    server.Post("/eve/v1/callback/slow", [&](const httplib::Request&, httplib::Response& res) {
      ++slow;
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      res.status = 503;
    });
    server.Post("/eve/v1/callback/fast", [&](const httplib::Request&, httplib::Response&) { ++fast; });
    const int port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread thread([&] { server.listen_after_bind(); });
    const auto url = [&](const std::string& host, const std::string& t) {
      return "http://" + host + ":" + std::to_string(port) + "/eve/v1/callback/" + t;
    };
    Outcomes outcomes;
    Clock::duration took{};
    {
      CallbackSender sender({.total = std::chrono::milliseconds(300), .drain = std::chrono::milliseconds(100)},
                            outcomes.hook(), test_names);
      for (int i = 0; i < 3; ++i) CHECK(sender.push(url("slow.example", "slow"), json::object(), "s" + std::to_string(i)));
      const auto start = Clock::now();
      CHECK(sender.push(url("fast.example", "fast"), json::object(), "f"));
      CHECK(wait_until([&] { return fast == 1; }));
      took = Clock::now() - start;
    }
    server.stop();
    thread.join();
    CHECK(took < std::chrono::milliseconds(800)); // before: behind 3 x (3 attempts, 1 s and 4 s apart)
    CHECK(slow <= 2); // one slow POST at a time for its host; the others waited
    CHECK(outcomes.of("f") == CallbackSender::Outcome::sent);
    for (const char* k : {"s0", "s1", "s2"}) // the stop drops them, said, never silently
      CHECK(outcomes.of(k) == CallbackSender::Outcome::dropped);
  }

  TEST_CASE("stopping the sender never waits on a lookup or a TLS handshake that hangs") {
    // A listener that never accepts: the TCP handshake completes (backlog), TLS never does.
    const int mute = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(mute >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(mute, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(mute, 4) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(mute, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const int port = ntohs(addr.sin_port);
    Outcomes outcomes;
    std::optional<CallbackSender> sender;
    sender.emplace(CallbackSender::Limits{.drain = std::chrono::milliseconds(300)}, outcomes.hook(), test_names);
    CHECK(sender->push("https://127.0.0.1:" + std::to_string(port) + "/eve/v1/callback/t", json::object(), "tls"));
    CHECK(sender->push("http://hang.example/eve/v1/callback/t", json::object(), "dns"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto start = Clock::now();
    sender.reset();
    const auto took = Clock::now() - start;
    CHECK(took < std::chrono::milliseconds(2500)); // before: 4.8 s, the handshake's own timeout
    CHECK(outcomes.of("tls") == CallbackSender::Outcome::dropped);
    CHECK(outcomes.of("dns") == CallbackSender::Outcome::dropped);
    ::close(mute); // the abandoned handshake ends (reset) instead of running into the next test
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

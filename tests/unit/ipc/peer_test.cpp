#include "ipc/peer.hpp"

#include "core/errors.hpp"
#include "ipc/pipes.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <thread>

using namespace hearth::ipc;
using namespace ipc_test;
using nlohmann::json;

namespace {

// Two peers wired back to back over two pipes.
struct Linked {
  OwnedPipe a_to_b{};
  OwnedPipe b_to_a{};
  Peer a{b_to_a.read, a_to_b.write, {.name = "peer b"}};
  Peer b{a_to_b.read, b_to_a.write, {.name = "peer a"}};
  void start() {
    a.start();
    b.start();
  }
};

// A Peer talking to a hand-driven raw end.
struct Raw {
  OwnedPipe to_peer{};
  OwnedPipe from_peer{};
  Inbox<std::string> diagnostics{};
  std::unique_ptr<Peer> peer;
  RawEnd raw{from_peer.read, to_peer.write};
  explicit Raw(PeerOptions options = {}) {
    options.on_diagnostic = [this](std::string_view text) { diagnostics.push(std::string(text)); };
    peer = std::make_unique<Peer>(to_peer.read, from_peer.write, std::move(options));
    peer->start();
  }
};

} // namespace

TEST_SUITE("ipc") {
  TEST_CASE("a request gets its matching reply") {
    Linked link;
    link.b.on_request("echo", [](const Request& r) { return r.params; });
    link.start();
    CHECK(link.a.request("echo", {{"x", 1}}) == json{{"x", 1}});
    CHECK(link.a.request("echo", json::array({1, "two"})) == json::array({1, "two"}));
  }

  TEST_CASE("the wire format is JSON-RPC 2.0 on single lines") {
    Raw t;
    auto reply = std::async(std::launch::async, [&] { return t.peer->request("sum", {{"a", 2}}); });
    const auto request = t.raw.message();
    CHECK(request["jsonrpc"] == "2.0");
    CHECK(request["method"] == "sum");
    CHECK(request["params"] == json{{"a", 2}});
    REQUIRE(request["id"].is_number_integer());
    t.raw.send_json({{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", 42}});
    CHECK(reply.get() == 42);
    t.peer->notify("log", {{"m", "hi"}});
    const auto note = t.raw.message();
    CHECK(note == json{{"jsonrpc", "2.0"}, {"method", "log"}, {"params", {{"m", "hi"}}}});
  }

  TEST_CASE("handler errors come back with their codes; a hearth::Error round-trips") {
    Linked link;
    link.b.on_request("hearth", [](const Request&) -> json {
      throw hearth::errors::io_error("read", "/tmp/x", "No such file");
    });
    link.b.on_request("rpc", [](const Request&) -> json {
      throw RpcError(-32042, "custom", {{"why", "test"}});
    });
    link.b.on_request("params", [](const Request& r) -> json { return r.params.at("missing"); });
    link.b.on_request("crash", [](const Request&) -> json { throw std::runtime_error("boom"); });
    link.start();
    const auto expect = [&](const char* method, int code) -> RemoteError {
      try {
        link.a.request(method, json::object());
      } catch (const RemoteError& e) {
        CHECK(e.code() == code);
        return e;
      }
      FAIL("expected RemoteError");
      throw std::logic_error("unreachable");
    };
    const auto original = hearth::errors::io_error("read", "/tmp/x", "No such file").info();
    const auto hearth_error = expect("hearth", code::hearth_error);
    CHECK(hearth_error.info().type == original.type);
    CHECK(hearth_error.info().message == original.message);
    CHECK(hearth_error.info().details == original.details);
    CHECK(hearth_error.info().http_status == original.http_status);
    const auto custom = expect("rpc", -32042);
    CHECK(custom.info().type == "rpc_error");
    CHECK(custom.remote_message() == "custom");
    CHECK(custom.data() == json{{"why", "test"}});
    CHECK(expect("params", code::invalid_params).remote_message().find("Invalid params") == 0);
    CHECK(expect("crash", code::internal_error).remote_message() == "boom");
    CHECK(expect("nope", code::method_not_found).remote_message() == "Method not found: nope");
  }

  TEST_CASE("notifications reach their handler in order; unknown ones go to the fallback") {
    Inbox<json> logs; // declared first: the peers' threads push into them until the peers go
    Inbox<std::string> others;
    Linked link;
    link.b.on_notification("log", [&](const Notification& n) { logs.push(n.params); });
    link.b.on_any_notification([&](const Notification& n) { others.push(n.method); });
    link.start();
    for (int i = 0; i < 100; ++i) CHECK(link.a.notify("log", {{"i", i}}));
    link.a.notify("other");
    const auto got = logs.wait_for(100);
    REQUIRE(got.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(got[static_cast<std::size_t>(i)]["i"] == i);
    CHECK(others.wait_for(1) == std::vector<std::string>{"other"});
  }

  TEST_CASE("event notifications tagged with a request's id arrive before its reply") {
    Linked link;
    link.b.on_request("workflow.run", [&](const Request& r) {
      for (int i = 0; i < 20; ++i) link.b.notify_tagged(r.id, "event", {{"seq", i}});
      return json{{"done", true}};
    });
    link.start();
    std::vector<int> seen;
    const auto result = link.a.request("workflow.run", json::object(),
                                       {.on_notification = [&](const Notification& n) {
                                         CHECK(n.method == "event");
                                         seen.push_back(n.params["seq"].get<int>());
                                       }});
    CHECK(result == json{{"done", true}});
    REQUIRE(seen.size() == 20); // all of them, already, when the reply returns
    for (int i = 0; i < 20; ++i) CHECK(seen[static_cast<std::size_t>(i)] == i);
  }

  TEST_CASE("concurrent requests from many threads each get their own reply") {
    Linked link;
    link.b.on_request("double", [](const Request& r) { return r.params["n"].get<int>() * 2; });
    link.start();
    std::vector<std::thread> threads;
    std::atomic<int> wrong{0};
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) {
          const int n = t * 1000 + i;
          if (link.a.request("double", {{"n", n}}) != 2 * n) ++wrong;
        }
      });
    for (auto& thread : threads) thread.join();
    CHECK(wrong == 0);
  }

  TEST_CASE("a handler may call back into the caller while the caller waits (nested traffic)") {
    // a = runtime, b = workflow script: a calls workflow.run; the script calls session.prompt
    // and log back on a before answering.
    Inbox<std::string> logs;
    Linked link;
    link.a.on_request("session.prompt", [](const Request& r) {
      return "answer to " + r.params["text"].get<std::string>();
    });
    link.a.on_notification("log", [&](const Notification& n) { logs.push(n.params["m"]); });
    link.b.on_request("workflow.run", [&](const Request& r) {
      link.b.notify("log", {{"m", "starting"}});
      const auto first = link.b.request("session.prompt", {{"text", "one"}});
      const auto second = link.b.request("session.prompt", {{"text", r.params["topic"]}});
      return json{{"first", first}, {"second", second}};
    });
    link.start();
    const auto result = link.a.request("workflow.run", {{"topic", "two"}});
    CHECK(result == json{{"first", "answer to one"}, {"second", "answer to two"}});
    CHECK(logs.wait_for(1) == std::vector<std::string>{"starting"});
  }

  TEST_CASE("nesting works several levels deep and in both directions") {
    Linked link;
    // depth n: the receiver asks the other side for depth n-1 and adds one.
    const auto depth = [](Peer& self) {
      return [&self](const Request& r) -> json {
        const int n = r.params["n"].get<int>();
        if (n == 0) return 0;
        return self.request("depth", {{"n", n - 1}}).get<int>() + 1;
      };
    };
    link.a.on_request("depth", depth(link.a));
    link.b.on_request("depth", depth(link.b));
    link.start();
    CHECK(link.a.request("depth", {{"n", 10}}) == 10);
  }

  TEST_CASE("EOF fails pending requests and says whether the other side exited") {
    Raw t({.name = "the runtime", .describe_eof = [] { return "it exited with exit code 3"; }});
    auto reply = std::async(std::launch::async, [&] { return t.peer->request("workflow.run"); });
    (void)t.raw.message(); // the request went out
    t.to_peer.close_write();
    try {
      reply.get();
      FAIL("expected ipc_closed");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "ipc_closed");
      CHECK(std::string(e.what()) == "Lost the connection to the runtime during `workflow.run`: "
                                     "it closed its output; it exited with exit code 3.");
    }
    CHECK(t.peer->wait_closed(10s));
    CHECK_THROWS_WITH_AS(t.peer->request("again"), doctest::Contains("it closed its output"),
                         hearth::Error);
  }

  TEST_CASE("EOF in the middle of a message says so") {
    Raw t;
    t.raw.send("{\"jsonrpc\":\"2.0\",");
    t.to_peer.close_write();
    CHECK(t.peer->wait_closed(10s));
    CHECK(t.peer->close_reason()->find("in the middle of a message") != std::string::npos);
  }

  TEST_CASE("a garbage line is a protocol error that fails pending requests") {
    Raw t({.name = "the runtime"});
    auto reply = std::async(std::launch::async, [&] { return t.peer->request("workflow.run"); });
    (void)t.raw.message();
    t.raw.send("Traceback (most recent call last):\n");
    try {
      reply.get();
      FAIL("expected a protocol error");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "ipc_protocol_error");
      CHECK(e.info().dev.find("Traceback (most recent call last):") != std::string::npos);
    }
    CHECK(t.peer->is_closed());
    const auto answer = t.raw.message(); // the other side is told, as JSON-RPC says
    CHECK(answer["error"]["code"] == code::parse_error);
    CHECK(answer["id"].is_null());
  }

  TEST_CASE("a request made after a garbage line closed the peer gets the protocol error") {
    // A script that prints garbage before hearth sends workflow.run (a race a loaded CI machine
    // lost): the caller must still hear "protocol error", not "the connection closed".
    Raw t({.name = "the runtime"});
    t.raw.send("hello, I am not JSON\n");
    REQUIRE(t.peer->wait_closed(std::chrono::seconds(10)));
    try {
      t.peer->request("workflow.run");
      FAIL("expected a protocol error");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "ipc_protocol_error");
      CHECK(e.info().dev.find("hello, I am not JSON") != std::string::npos);
    }
  }

  TEST_CASE("an oversized line is a protocol error") {
    Raw t({.max_line_bytes = 1024});
    t.raw.send(std::string(5000, 'x'));
    CHECK(t.peer->wait_closed(10s));
    CHECK(t.peer->close_reason()->find("longer than the limit of 1024 bytes") != std::string::npos);
  }

  TEST_CASE("valid JSON that is no JSON-RPC message gets -32600 and the connection stays up") {
    Raw t;
    t.peer->on_request("echo", [](const Request& r) { return r.params; });
    t.raw.send_json({{"jsonrpc", "2.0"}, {"id", 5}});
    auto answer = t.raw.message();
    CHECK(answer["id"] == 5);
    CHECK(answer["error"]["code"] == code::invalid_request);
    t.raw.send_json({{"jsonrpc", "1.0"}, {"id", 6}, {"method", "echo"}});
    CHECK(t.raw.message()["error"]["code"] == code::invalid_request);
    t.raw.send_json({{"jsonrpc", "2.0"}, {"id", 7}, {"method", "echo"}, {"params", 3}});
    CHECK(t.raw.message()["error"]["code"] == code::invalid_request);
    t.raw.send_json({{"jsonrpc", "2.0"}, {"id", "s-8"}, {"method", "echo"}, {"params", {1}}});
    answer = t.raw.message();
    CHECK(answer == json{{"jsonrpc", "2.0"}, {"id", "s-8"}, {"result", {1}}});
    CHECK_FALSE(t.peer->is_closed());
    t.raw.send("\n   \n"); // blank lines are tolerated
    t.raw.send_json({{"id", 9}, {"method", "echo"}}); // a missing "jsonrpc" is tolerated
    CHECK(t.raw.message() == json{{"jsonrpc", "2.0"}, {"id", 9}, {"result", nullptr}});
  }

  TEST_CASE("a request without reply times out; the late reply is dropped") {
    Raw t;
    CHECK_THROWS_WITH_AS(t.peer->request("slow", json::object(), {.timeout = 50ms}),
                         doctest::Contains("within 50 ms"), hearth::Error);
    const auto request = t.raw.message();
    t.raw.send_json({{"jsonrpc", "2.0"}, {"id", request["id"]}, {"result", "late"}});
    const auto diagnostics = t.diagnostics.wait_for(1);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].find("unknown or expired id") != std::string::npos);
    // The connection is still usable.
    auto reply = std::async(std::launch::async, [&] { return t.peer->request("next"); });
    const auto next = t.raw.message();
    t.raw.send_json({{"jsonrpc", "2.0"}, {"id", next["id"]}, {"result", "fine"}});
    CHECK(reply.get() == "fine");
  }

  TEST_CASE("the default timeout applies when a call gives none") {
    Raw t({.default_timeout = 30ms});
    CHECK_THROWS_WITH_AS(t.peer->request("slow"), doctest::Contains("within 30 ms"), hearth::Error);
  }

  TEST_CASE("close() fails pending requests and later ones") {
    Raw t;
    auto reply = std::async(std::launch::async, [&] { return t.peer->request("never"); });
    (void)t.raw.message();
    t.peer->close();
    CHECK_THROWS_WITH_AS(reply.get(), doctest::Contains("closed on this side"), hearth::Error);
    CHECK_THROWS_AS(t.peer->request("later"), hearth::Error);
  }

  TEST_CASE("writing to a side that stopped reading closes the peer, without SIGPIPE") {
    Raw t({.name = "the script"});
    t.from_peer.close_read();
    auto reply = std::async(std::launch::async, [&] { return t.peer->request("x"); });
    CHECK_THROWS_WITH_AS(reply.get(), doctest::Contains("writing to it failed"), hearth::Error);
    CHECK_FALSE(t.peer->notify("after"));
  }

  TEST_CASE("replies from handlers still in flight are flushed when the peer is destroyed") {
    OwnedPipe to_peer, from_peer;
    RawEnd raw(from_peer.read, to_peer.write);
    std::promise<void> handled;
    {
      Peer peer(to_peer.read, from_peer.write);
      peer.on_request("shutdown", [&](const Request&) {
        handled.set_value(); // the owner may now destroy the peer before this reply is queued
        return json{{"bye", true}};
      });
      peer.start();
      raw.send_json({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "shutdown"}});
      handled.get_future().wait();
    }
    CHECK(raw.message() == json{{"jsonrpc", "2.0"}, {"id", 1}, {"result", {{"bye", true}}}});
  }

  TEST_CASE("run() serves on the calling thread until a handler closes the peer") {
    Linked link;
    link.b.on_request("echo", [](const Request& r) { return r.params; });
    link.b.on_request("bye", [&link](const Request&) {
      link.b.close(); // stops the reading; the reply is still written
      return json{{"bye", true}};
    });
    link.a.start();
    auto served = std::async(std::launch::async, [&] { link.b.run(); });
    CHECK(link.a.request("echo", {{"n", 1}}) == json{{"n", 1}});
    CHECK(link.a.request("bye") == json{{"bye", true}});
    CHECK(served.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    served.get();
    CHECK(link.b.is_closed());
    CHECK_THROWS_AS(link.b.run(), hearth::Error); // once only, like start()
  }

  TEST_CASE("run() returns at EOF") {
    OwnedPipe to_peer, from_peer;
    Peer peer(to_peer.read, from_peer.write);
    auto served = std::async(std::launch::async, [&] { peer.run(); });
    to_peer.close_write();
    CHECK(served.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(peer.close_reason().value_or("").find("closed its output") != std::string::npos);
  }

  TEST_CASE("large and unicode payloads cross intact") {
    Linked link;
    link.b.on_request("echo", [](const Request& r) { return r.params; });
    link.start();
    const json big = {{"text", std::string(4 * 1024 * 1024, 'b')}, {"u", "héllo ✓ 😀"}};
    CHECK(link.a.request("echo", big) == big);
  }
}

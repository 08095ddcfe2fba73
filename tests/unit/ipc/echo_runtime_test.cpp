// Component tests: Process + Peer against tests/fixtures/runtimes/echo_runtime.py, a separate
// program in another language speaking the protocol over its stdin/stdout.
#include "core/process.hpp"
#include "ipc/peer.hpp"
#include "ipc/pipes.hpp"

#include <doctest/doctest.h>

#include <future>

using namespace hearth;
using namespace ipc_test;
using nlohmann::json;

namespace {

// The echo runtime as a child, with a peer on its pipes and its `ready` notification awaited.
struct EchoRuntime {
  process::Process child{
      {.argv = {"python3", HEARTH_SOURCE_DIR "/tests/fixtures/runtimes/echo_runtime.py"},
       .pipe_stderr = true}};
  Inbox<json> ready{};
  Inbox<json> pongs{};
  ipc::Peer peer{child.stdout_fd(), child.stdin_fd(),
                 {.name = "the runtime", .describe_eof = [this] {
                    const auto status = child.wait_for(std::chrono::seconds(5));
                    return status ? "it exited with " + status->describe() : "it is still running";
                  }}};
  EchoRuntime() {
    peer.on_notification("ready", [this](const ipc::Notification& n) { ready.push(n.params); });
    peer.on_notification("pong", [this](const ipc::Notification& n) { pongs.push(n.params); });
    peer.start();
    REQUIRE_MESSAGE(ready.wait_for(1).size() == 1, "the runtime sent no ready notification");
  }
};

} // namespace

TEST_SUITE("ipc") {
  TEST_CASE("the echo runtime announces itself and echoes requests") {
    EchoRuntime rt;
    CHECK(rt.ready.items()[0]["pid"] == rt.child.pid());
    CHECK(rt.peer.request("echo", {{"text", "héllo ✓"}}) == json{{"text", "héllo ✓"}});
    rt.peer.notify("ping", {{"n", 1}});
    CHECK(rt.pongs.wait_for(1).at(0) == json{{"n", 1}});
  }

  TEST_CASE("a request streams tagged events before its reply") {
    EchoRuntime rt;
    std::vector<int> seqs;
    const auto result = rt.peer.request("stream", {{"count", 50}},
                                        {.on_notification = [&](const ipc::Notification& n) {
                                          seqs.push_back(n.params["seq"].get<int>());
                                        }});
    CHECK(result == json{{"count", 50}});
    REQUIRE(seqs.size() == 50);
    CHECK(seqs.back() == 49);
  }

  TEST_CASE("the child calls back into the parent while the parent waits") {
    EchoRuntime rt;
    rt.peer.on_request("session.prompt", [](const ipc::Request& r) {
      return json{{"text", "reply to " + r.params["message"].get<std::string>()}};
    });
    const auto result = rt.peer.request(
        "callback", {{"method", "session.prompt"}, {"params", {{"message", "hi"}}}});
    CHECK(result == json{{"reply", {{"text", "reply to hi"}}}});
    const auto missing = rt.peer.request("callback", {{"method", "no.such"}});
    CHECK(missing["error"]["code"] == ipc::code::method_not_found);
  }

  TEST_CASE("a hearth error from the child arrives with its type and details") {
    EchoRuntime rt;
    try {
      rt.peer.request("fail", {{"type", "tool_failed"}, {"message", "The tool failed."},
                               {"details", "Check the tool."}});
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.info().type == "tool_failed");
      CHECK(std::string(e.what()) == "The tool failed.");
      CHECK(e.info().details == "Check the tool.");
    }
  }

  TEST_CASE("a crash fails the pending request and gives the exit code") {
    EchoRuntime rt;
    CHECK_THROWS_WITH_AS(rt.peer.request("crash", {{"code", 7}}),
                         doctest::Contains("it exited with exit code 7"), Error);
  }

  TEST_CASE("garbage on the child's stdout is a protocol error") {
    EchoRuntime rt;
    CHECK_THROWS_WITH_AS(rt.peer.request("garbage"),
                         doctest::Contains("Protocol error from the runtime"), Error);
  }

  TEST_CASE("shutdown: the child answers and exits 0") {
    EchoRuntime rt;
    CHECK(rt.peer.request("shutdown") == json::object());
    const auto status = rt.child.wait_for(std::chrono::seconds(10));
    REQUIRE(status.has_value());
    CHECK(status->code == 0);
  }
}

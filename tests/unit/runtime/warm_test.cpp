// The warm runtime (issue 17 §2; docs/ipc.md "Warm runtime"): identity comparison and the
// socket server's refusal paths (mode bits, connection limit, garbage, `shutdown` per connection,
// a socket another generation replaced).
#include "core/error.hpp"
#include "ipc/json_lines.hpp"
#include "runtime/runtime.hpp"
#include "runtime/warm.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace hearth::runtime;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

json sample_identity() {
  return make_identity({.root = "/p", .config_path = "/p/hearth.json", .config_text = "{}",
                        .manifest_text = "{\"kind\":\"m\"}", .store_location = "sqlite:/p/s.db"});
}

/// A raw connection to `path` (-1 when refused).
int raw_connect(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const auto text = path.string();
  REQUIRE(text.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// Reads one line from `fd` within 3 s; "" at EOF or timeout.
std::string read_line(int fd) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  char c = 0;
  timeval tv{.tv_sec = 3, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (std::chrono::steady_clock::now() < deadline && ::read(fd, &c, 1) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return "";
}

void send_line(int fd, const std::string& line) {
  const auto text = line + "\n";
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
}

struct Fixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  Runtime runtime{Program{}, RuntimeContext{.project_root = project.root()}, *store};
  std::filesystem::path dir = project.root() / ".hearth" / "dev";
};

} // namespace

TEST_SUITE("runtime") {
  TEST_CASE("warm identity: equal inputs match, each differing field is named") {
    const auto a = sample_identity();
    CHECK(identity_mismatch(a, a) == "");
    CHECK(identity_mismatch(a, json()) == "it announced no identity");
    auto b = a;
    b["manifest"] = digest("other");
    CHECK(identity_mismatch(a, b) == "its compiled manifest differs");
    b = a;
    b.erase("env");
    CHECK(identity_mismatch(a, b) == "its environment differs");
    b = a;
    b["config"] = digest("{\"model\":1}");
    CHECK(identity_mismatch(a, b) == "its hearth.json differs");
    b = a;
    b["store"] = "sqlite:/elsewhere.db";
    CHECK(identity_mismatch(a, b) == "its store differs");
    // Extra fields of a newer server do not matter; ours must all be there.
    b = a;
    b["extra"] = 1;
    CHECK(identity_mismatch(a, b) == "");
  }

  TEST_CASE("warm identity: the environment digest ignores noise and order, not values") {
    const auto base = environment_digest({"A=1", "B=2", "PWD=/x", "SHLVL=1"});
    CHECK(base == environment_digest({"B=2", "A=1", "PWD=/y", "TERM=xterm", "HEARTH_DEBUG_WARM=1"}));
    CHECK(base != environment_digest({"A=1", "B=3"}));
    CHECK(base != environment_digest({"A=1", "B=2", "C="}));
    CHECK(digest("a") != digest("b"));
    CHECK(digest("").rfind("fnv1a64:", 0) == 0);
  }

  TEST_CASE("warm server: 0700 directory, 0600 socket, identity in ready, removed at stop") {
    Fixture f;
    const auto identity = sample_identity();
    // A stale socket file (a dev server that died) is replaced.
    std::filesystem::create_directories(f.dir);
    f.project.write(".hearth/dev/runtime.sock", "stale");
    WarmServer server(f.dir, f.runtime, identity);
    server.start();
    struct stat st{};
    REQUIRE(::stat(f.dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(server.socket_path().c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);

    std::string why;
    auto client = WarmClient::connect(f.project.root(), identity, why);
    REQUIRE_MESSAGE(client, why);
    CHECK(client->hello()["identity"] == identity);
    // An unknown workflow answers like the stdio child would.
    CHECK_THROWS_WITH_AS(client->request("workflow.run", {{"workflow", "nope"}}, nullptr),
                         doctest::Contains("nope"), hearth::Error);
    // A different expectation is refused, naming the field.
    auto other = identity;
    other["manifest"] = digest("x");
    CHECK_FALSE(WarmClient::connect(f.project.root(), other, why));
    CHECK(why.find("compiled manifest differs") != std::string::npos);
    client.reset();
    server.stop();
    CHECK_FALSE(std::filesystem::exists(server.socket_path()));
    CHECK_FALSE(WarmClient::connect(f.project.root(), identity, why));
  }

  TEST_CASE("warm server: garbage closes that connection only; shutdown ends only it") {
    Fixture f;
    WarmServer server(f.dir, f.runtime, sample_identity());
    server.start();
    const int good = raw_connect(server.socket_path());
    const int bad = raw_connect(server.socket_path());
    REQUIRE(good >= 0);
    REQUIRE(bad >= 0);
    CHECK(read_line(good).find("\"ready\"") != std::string::npos);
    CHECK(read_line(bad).find("\"ready\"") != std::string::npos);
    send_line(bad, "this is not json");
    CHECK(read_line(bad).find("-32700") != std::string::npos);
    CHECK(read_line(bad) == ""); // closed
    send_line(good, R"({"jsonrpc":"2.0","id":1,"method":"shutdown"})");
    CHECK(read_line(good).find("\"result\"") != std::string::npos);
    CHECK(read_line(good) == ""); // this connection ended ...
    ::close(good);
    ::close(bad);
    std::string why; // ... the server did not
    CHECK(WarmClient::connect(f.project.root(), sample_identity(), why));
  }

  TEST_CASE("warm server: connections over the limit are closed before ready") {
    Fixture f;
    WarmServer server(f.dir, f.runtime, sample_identity(), 2);
    server.start();
    const int a = raw_connect(server.socket_path());
    const int b = raw_connect(server.socket_path());
    CHECK(read_line(a).find("\"ready\"") != std::string::npos);
    CHECK(read_line(b).find("\"ready\"") != std::string::npos);
    const int c = raw_connect(server.socket_path());
    CHECK(read_line(c) == ""); // closed at once
    ::close(a);
    ::close(c);
    // A freed slot is usable again (the server notices the closed connection within ~100 ms).
    std::this_thread::sleep_for(300ms);
    const int d = raw_connect(server.socket_path());
    CHECK(read_line(d).find("\"ready\"") != std::string::npos);
    ::close(b);
    ::close(d);
  }

  TEST_CASE("warm server: an older generation leaves a newer one's socket in place") {
    Fixture f;
    WarmServer old_gen(f.dir, f.runtime, sample_identity());
    old_gen.start();
    WarmServer new_gen(f.dir, f.runtime, sample_identity());
    new_gen.start();
    old_gen.stop();
    std::string why;
    CHECK_MESSAGE(WarmClient::connect(f.project.root(), sample_identity(), why), why);
    new_gen.stop();
    CHECK_FALSE(std::filesystem::exists(new_gen.socket_path()));
  }

  TEST_CASE("warm server: eventTypes streams only the named events; every event is stored") {
    TempProject project;
    auto store = hearth::store::open_store("memory:");
    AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help."};
    WorkflowDef hello{.name = "hello",
                      .result = {{"type", "object"},
                                 {"properties", {{"greeting", {{"type", "string"}}}}},
                                 {"required", {"greeting"}}},
                      .body = "Greet {{payload.name}}."}; // its `finish` call is a tool_call
    Runtime runtime(Program{.root_agent = "assistant", .agents = {agent}, .workflows = {hello}},
                    RuntimeContext{.project_root = project.root()}, *store);
    WarmServer server(project.root() / ".hearth" / "dev", runtime, sample_identity());
    server.start();
    std::string why;
    auto client = WarmClient::connect(project.root(), sample_identity(), why);
    REQUIRE_MESSAGE(client, why);
    const auto run = [&](const json& event_types) {
      json params = {{"workflow", "hello"}, {"payload", {{"name", "World"}}}};
      if (!event_types.is_null()) params["eventTypes"] = event_types;
      std::vector<std::string> seen;
      const auto reply = client->request("workflow.run", params, [&](const json& e) {
        seen.push_back(e.value("type", ""));
      });
      return std::pair{reply.value("runId", ""), seen};
    };
    const auto [all_id, all] = run(nullptr);
    CHECK(std::count(all.begin(), all.end(), "trace") > 0);
    CHECK(std::count(all.begin(), all.end(), "turn_request") == 1);
    const auto [some_id, some] = run(json{"run_start", "tool_call", "run_end"});
    CHECK(some == std::vector<std::string>{"run_start", "tool_call", "run_end"});
    // The filter is the stream's, not the store's: both runs stored the same kinds of events.
    CHECK(store->read("runs/" + some_id, -1).events.size() ==
          store->read("runs/" + all_id, -1).events.size());
    // Malformed lists are refused before a run is admitted.
    const auto runs_before = store->list_runs({}).size();
    json too_many = json::array();
    for (int i = 0; i < 65; ++i) too_many.push_back("t" + std::to_string(i));
    for (const json& bad : {json("run_end"), json{1}, too_many, json{std::string(65, 'x')}})
      CHECK_THROWS_WITH_AS(run(bad), doctest::Contains("eventTypes"), hearth::Error);
    CHECK(store->list_runs({}).size() == runs_before);
  }
}

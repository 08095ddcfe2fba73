// `logs --server` against an in-process fake Durable Streams server (httplib on port 0): replay,
// --since/--limit/--types, follow via long-poll, HTTP and connection failures, header rules.
#include "cli/logs_server.hpp"
#include "core/error.hpp"
#include "store/offsets.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <iostream>
#include <sstream>
#include <thread>

using namespace hearth::cli;
using nlohmann::json;

namespace {

const std::string k_run = "workflow:hello:01ABC";

json events() {
  return json::array({{{"type", "run_start"}, {"runId", k_run}, {"workflowName", "hello"}, {"eventIndex", 0}},
                      {{"type", "log"}, {"level", "info"}, {"message", "hi"}, {"eventIndex", 1}},
                      {{"type", "run_end"}, {"runId", k_run}, {"isError", true},
                       {"error", {{"message", "boom"}}}, {"durationMs", 3}, {"eventIndex", 2}}});
}

/// Serves /runs/<k_run>. With `live`, the run is active and reveals one more event per request.
class FakeStreams {
public:
  explicit FakeStreams(bool live) : m_live(live), m_visible(live ? 1 : 3) {
    m_server.Get(R"(/runs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      m_paths.push_back(req.target);
      m_auth = req.get_header_value("Authorization");
      if (req.matches[1] != k_run) {
        res.status = 404;
        res.set_content(R"({"error":{"type":"run_not_found"}})", "application/json");
        return;
      }
      if (req.has_param("meta")) {
        res.set_content(json{{"status", m_visible < 3 ? "active" : "completed"}}.dump(),
                        "application/json");
        return;
      }
      const auto offset = hearth::store::parse_offset(req.get_param_value("offset"));
      if (req.has_param("live") && m_visible < 3) ++m_visible; // the run moves on meanwhile
      json page = json::array();
      std::int64_t last = offset.after_seq;
      for (int i = 0; i < m_visible; ++i)
        if (i > offset.after_seq) {
          page.push_back(events()[static_cast<std::size_t>(i)]);
          last = i;
        }
      res.set_header("Stream-Next-Offset", hearth::store::format_offset(last));
      res.set_header("Stream-Up-To-Date", "true");
      if (m_visible == 3) res.set_header("Stream-Closed", "true");
      if (page.empty() && req.has_param("live")) {
        res.status = 204;
        return;
      }
      res.set_content(page.dump(), "application/json");
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    for (int i = 0; i < 500 && !m_server.is_running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2)); // poll until listening
  }
  ~FakeStreams() {
    m_server.stop();
    m_thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  std::vector<std::string> m_paths{};
  std::string m_auth{};

private:
  httplib::Server m_server;
  bool m_live;
  int m_visible;
  int m_port = 0;
  std::thread m_thread;
};

/// Runs logs_from_server with stdout and stderr captured.
struct Captured {
  int code = -1;
  std::string out{}, err{};
};
Captured run(ServerLogsOptions opts) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Captured c;
  try {
    c.code = logs_from_server(opts);
  } catch (...) {
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    throw;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  c.out = out.str();
  c.err = err.str();
  return c;
}

std::vector<json> lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("logs --server replays an ended run as ndjson with offsets and exits 2 on a failed run") {
    FakeStreams server(false);
    const auto r = run({.server = server.url(), .run_id = k_run, .format = "ndjson"});
    CHECK(r.code == 2);
    const auto got = lines(r.out);
    REQUIRE(got.size() == 3);
    CHECK(got[0]["offset"] == "0000000000000000_0000000000000000");
    CHECK(got[2]["type"] == "run_end");
    CHECK(got[2]["offset"] == "0000000000000000_0000000000000002");
    CHECK(server.m_paths.front().find("/runs/workflow%3Ahello%3A01ABC?meta") == 0);
  }

  TEST_CASE("logs --server honours --since (an eventIndex), --limit and --types") {
    FakeStreams server(false);
    auto r = run({.server = server.url(), .run_id = k_run, .follow = false, .since = "0",
                  .limit = 1, .format = "ndjson"});
    CHECK(r.code == 0);
    auto got = lines(r.out);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["eventIndex"] == 1);
    r = run({.server = server.url(), .run_id = k_run, .follow = false, .types = {"run_end"},
             .format = "ndjson"});
    CHECK(r.code == 2);
    CHECK(lines(r.out).size() == 1);
  }

  TEST_CASE("logs --server pretty output goes to stderr") {
    FakeStreams server(false);
    const auto r = run({.server = server.url(), .run_id = k_run, .follow = false});
    CHECK(r.out.empty());
    CHECK(r.err.find("hi") != std::string::npos);
    CHECK(r.err.find("boom") != std::string::npos);
  }

  TEST_CASE("logs --server follows an active run with long-polls until it closes") {
    FakeStreams server(true);
    const auto r = run({.server = server.url(), .headers = {"Authorization: Bearer t0k"},
                        .run_id = k_run, .format = "ndjson"});
    CHECK(r.code == 2);
    const auto got = lines(r.out);
    REQUIRE(got.size() == 3);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i]["eventIndex"] == i);
    bool long_polled = false;
    for (const auto& p : server.m_paths) long_polled |= p.find("live=long-poll") != std::string::npos;
    CHECK(long_polled);
    CHECK(server.m_auth == "Bearer t0k");
  }

  TEST_CASE("logs --server reports an unknown run with the URL and status, and a dead server") {
    FakeStreams server(false);
    try {
      run({.server = server.url(), .run_id = "nope", .follow = false});
      FAIL("no error");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "logs_http_error");
      INFO(std::string(e.what()));
      CHECK(std::string(e.what()).find("HTTP Error 404 at " + server.url() + "/runs/nope?offset=-1") !=
            std::string::npos);
    }
    CHECK_THROWS_WITH_AS(run({.server = "http://127.0.0.1:1", .run_id = k_run, .follow = false}),
                         doctest::Contains("Failed to read events for run"), hearth::Error);
  }

  TEST_CASE("headers: Name: value, no duplicates, no Accept") {
    const auto ok = parse_headers({"Authorization: Bearer x", "X-Trace:  42 "});
    REQUIRE(ok.size() == 2);
    CHECK(ok[1] == std::pair<std::string, std::string>{"X-Trace", "42"});
    for (const auto& bad : std::vector<std::vector<std::string>>{
             {"NoColon"}, {": v"}, {"Bad Name: v"}, {"Accept: text/plain"},
             {"X-A: 1", "x-a: 2"}})
      CHECK_THROWS_AS(parse_headers(bad), hearth::Error);
  }

  TEST_CASE("server URLs keep a path prefix; --since pads an eventIndex") {
    CHECK(split_server_url("http://h:1/api/") == std::pair<std::string, std::string>{"http://h:1", "/api"});
    CHECK(split_server_url("https://h") == std::pair<std::string, std::string>{"https://h", ""});
    CHECK_THROWS_AS(split_server_url("ftp://h"), hearth::Error);
    CHECK_THROWS_AS(split_server_url("http://"), hearth::Error);
    CHECK(since_offset("") == "-1");
    CHECK(since_offset("23") == "0000000000000000_0000000000000023");
    CHECK(since_offset("0000000000000000_0000000000000023") == "0000000000000000_0000000000000023");
    CHECK_THROWS_AS(since_offset("abc"), hearth::Error);
  }
}

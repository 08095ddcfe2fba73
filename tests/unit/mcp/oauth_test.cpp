// OAuth for MCP connections (issue 13 §2) against an in-process authorization server on
// 127.0.0.1.
#include "core/error.hpp"
#include "mcp/oauth.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <array>
#include <ctime>
#include <filesystem>
#include <vector>
#include <mutex>
#include <tuple>
#include <string>
#include <thread>

using namespace hearth;

namespace {

/// An authorization server at the MCP server's own origin (2025-03-26 style: no resource
/// metadata) whose token endpoint answers with `token_body` / `token_type`.
class AuthServer {
public:
  AuthServer(std::string token_body, std::string token_type, int status = 200) {
    m_server.Get("/.well-known/oauth-authorization-server", [this](const httplib::Request&, httplib::Response& res) {
      const auto origin = "http://127.0.0.1:" + std::to_string(m_port);
      res.set_content("{\"issuer\":\"" + origin + "\",\"authorization_endpoint\":\"" + origin +
                          "/authorize\",\"token_endpoint\":\"" + origin + "/token\"}",
                      "application/json");
    });
    m_server.Get("/authorize", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("<p>Allow hearth?</p>", "text/html"); // a person must consent
    });
    m_server.Post("/token", [this, token_body, token_type, status](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(m_mutex);
        m_accept = req.get_header_value("Accept");
      }
      res.status = status;
      res.set_content(token_body, token_type);
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    while (!m_server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ~AuthServer() {
    m_server.stop();
    m_thread.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/mcp"; }
  std::string accept() {
    std::lock_guard lock(m_mutex);
    return m_accept;
  }

private:
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  std::mutex m_mutex;
  std::string m_accept;
};

} // namespace

TEST_SUITE("mcp") {
  TEST_CASE("oauth: a token answer that is not JSON never reaches an error message") {
    AuthServer as("access_token=SECRET-ACCESS&refresh_token=SECRET-REFRESH&token_type=bearer",
                  "application/x-www-form-urlencoded");
    mcp::oauth::Settings s;
    s.connection = "c";
    s.mcp_url = as.url();
    s.grant = "client_credentials";
    s.client_id = "id";
    s.client_secret = "SECRET-CLIENT";
    std::string message;
    try {
      mcp::oauth::authorize(s, "Bearer");
    } catch (const Error& e) {
      message = e.info().message;
    }
    CHECK_FALSE(message.empty());
    CHECK(message.find("SECRET") == std::string::npos);
    CHECK(as.accept() == "application/json");
  }

  TEST_CASE("oauth: a refused token request says the OAuth error code, not the body") {
    AuthServer as(R"({"error":"invalid_client","error_description":"bad secret","client_secret":"SECRET-X"})",
                  "application/json", 400);
    mcp::oauth::Settings s;
    s.connection = "c";
    s.mcp_url = as.url();
    s.grant = "client_credentials";
    s.client_id = "id";
    s.client_secret = "SECRET-CLIENT";
    std::string message;
    try {
      mcp::oauth::authorize(s, "Bearer");
    } catch (const Error& e) {
      message = e.info().message;
    }
    CHECK(message.find("invalid_client") != std::string::npos);
    CHECK(message.find("SECRET") == std::string::npos);
  }

  TEST_CASE("oauth: a consent waiting for a person blocks neither the connection's token nor a cancelled request") {
    AuthServer as("{}", "application/json");
    mcp::oauth::Settings s;
    s.connection = "c";
    s.mcp_url = as.url();
    s.client_id = "id";
    std::atomic<bool> asked{false};
    std::stop_source stop_a, stop_b;
    mcp::oauth::Consent consent_a{.required = [&](const nlohmann::json&) { asked = true; },
                                  .callback_base = "http://127.0.0.1:1",
                                  .stop = stop_a.get_token(),
                                  .wait = std::chrono::seconds(4)};
    mcp::oauth::Consent consent_b = consent_a;
    consent_b.stop = stop_b.get_token();
    std::thread a([&] {
      mcp::oauth::ConsentScope scope(&consent_a);
      CHECK_THROWS_AS(mcp::oauth::authorize(s, "Bearer"), Error);
    });
    for (int i = 0; i < 500 && !asked; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(asked);
    auto started = std::chrono::steady_clock::now();
    CHECK(mcp::oauth::current_token(s).empty()); // every request's headers: not held up
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    std::thread b([&] {
      mcp::oauth::ConsentScope scope(&consent_b);
      CHECK_THROWS_AS(mcp::oauth::authorize(s, "Bearer"), Error);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    started = std::chrono::steady_clock::now();
    stop_b.request_stop(); // the second request's turn ends: it stops waiting at once
    b.join();
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
    stop_a.request_stop();
    a.join();
  }

  TEST_CASE("oauth: a refresh that fails without invalid_grant keeps the stored tokens; invalid_grant drops only them") {
    for (const auto& [status, body, kept] :
         {std::tuple{500, std::string("{}"), true},
          std::tuple{400, std::string(R"({"error":"invalid_grant"})"), false}}) {
      AuthServer as(body, "application/json", status);
      const auto token_endpoint = as.url().substr(0, as.url().size() - 4) + "/token";
      mcp::oauth::Tokens t{.access_token = "old", .refresh_token = "r",
                           .expires_at = static_cast<std::int64_t>(std::time(nullptr)) + 10,
                           .token_endpoint = token_endpoint, .client_id = "id", .resource = as.url()};
      auto stored = std::make_shared<std::optional<std::string>>(t.to_json().dump());
      mcp::oauth::Settings s;
      s.connection = "c";
      s.mcp_url = as.url();
      s.tokens.load = [stored] { return *stored; };
      s.tokens.save = [stored](const std::string& text) { *stored = text; };
      s.tokens.forget = [stored] { stored->reset(); };
      const auto token = mcp::oauth::current_token(s);
      CHECK(stored->has_value() == kept);
      CHECK(token == (kept ? "old" : ""));
    }
  }

  TEST_CASE("oauth: a stored token granted for another URL is not used") {
    mcp::oauth::Tokens t{.access_token = "elsewhere", .resource = "https://other.example/mcp"};
    mcp::oauth::Settings s;
    s.connection = "c";
    s.mcp_url = "https://mine.example/mcp";
    s.tokens.load = [text = t.to_json().dump()] { return std::optional<std::string>(text); };
    CHECK(mcp::oauth::current_token(s).empty());
  }

  TEST_CASE("oauth: processes making the credentials key at once all read the one key, never half of it") {
    TempProject tmp;
    const auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    for (int round = 0; round < 20; ++round) {
      const auto file = tmp.root() / ("key" + std::to_string(round));
      std::vector<std::array<unsigned char, 32>> keys(6);
      std::atomic<int> failed{0};
      std::vector<std::thread> threads;
      for (auto& k : keys)
        threads.emplace_back([&, file] {
          try {
            k = mcp::oauth::credentials_key(none, file);
          } catch (const std::exception&) {
            ++failed;
          }
        });
      for (auto& t : threads) t.join();
      CHECK(failed == 0);
      for (const auto& k : keys) CHECK(k == keys[0]);
      CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::group_all) ==
            std::filesystem::perms::none);
    }
  }
}

// The HTTP providers end to end against FakeLlmServer: recorded streams, request shapes, error
// mapping, retries and connection failures, all over loopback.
#include "providers/provider.hpp"

#include "core/error.hpp"
#include "fake_llm_server.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <map>

using namespace hearth::providers;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_key = "sk-test-SECRET-1234";

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

ProviderSettings fast_settings(std::vector<std::string>* log = nullptr) {
  ProviderSettings s;
  s.http.connect_timeout = 2s;
  s.http.read_timeout = 5s;
  s.http.backoff_base = 1ms;
  s.http.backoff_max = 5ms;
  if (log)
    s.log = [log](std::string_view line) { log->emplace_back(line); };
  return s;
}

std::unique_ptr<Provider> openai_at(const FakeLlmServer& server,
                                    std::vector<std::string>* log = nullptr) {
  return make_provider("openai", {},
                       env_of({{"OPENAI_API_KEY", k_key}, {"OPENAI_BASE_URL", server.url("/v1")}}),
                       fast_settings(log));
}

StepRequest weather_request() {
  return {.model = "gpt-4o",
          .system = "Be brief.",
          .messages = {user_message("What's the weather like in SF?")},
          .tools = {{.name = "get_weather",
                     .description = "Weather for a city",
                     .parameters = std::make_shared<const Json>(Json{{"type", "object"}})}},
          .options = {{"temperature", 0.5}, {"maxTokens", 100}}};
}

hearth::ErrorInfo error_of(Provider& p, const StepRequest& r) {
  try {
    p.step(r, {});
  } catch (const hearth::Error& e) {
    return e.info();
  }
  FAIL("step() did not throw");
  return {};
}

} // namespace

TEST_SUITE("providers") {
  TEST_CASE("openai streams text over HTTP and sends the expected request") {
    FakeLlmServer server;
    server.enqueue({.body = llm_fixture("openai/chat-stream-text-usage.sse")});
    std::vector<std::string> log;
    auto provider = openai_at(server, &log);
    std::string streamed;
    const auto r = provider->step(weather_request(),
                                  {.on_text_delta = [&](std::string_view d) { streamed += d; }});
    CHECK(r.text.starts_with("I'm unable to provide real-time weather updates."));
    CHECK(streamed == r.text);
    CHECK(r.provider == "openai");
    CHECK(r.model == "gpt-4o-2024-08-06");
    CHECK(r.usage.input == 14);
    CHECK(r.usage.output == 30);
    CHECK(r.usage.total == 44);
    CHECK(r.stop_reason == "stop");

    const auto sent = server.requests();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].path == "/v1/chat/completions");
    CHECK(sent[0].headers.find("Authorization")->second == std::string("Bearer ") + k_key);
    const auto body = Json::parse(sent[0].body);
    CHECK(body["model"] == "gpt-4o");
    CHECK(body["stream"] == true);
    CHECK(body["stream_options"]["include_usage"] == true);
    CHECK(body["temperature"] == 0.5);
    CHECK(body["max_completion_tokens"] == 100);
    CHECK(body["messages"][0] == Json{{"role", "system"}, {"content", "Be brief."}});
    CHECK(body["messages"][1]["role"] == "user");
    CHECK(body["tools"][0]["function"]["name"] == "get_weather");
    for (const auto& line : log)
      CHECK(line.find(k_key) == std::string::npos);
    REQUIRE_FALSE(log.empty());
    CHECK(log[0].find("/v1/chat/completions") != std::string::npos);
  }

  TEST_CASE("openai tool calls and parallel tool calls arrive over HTTP") {
    FakeLlmServer server;
    server.enqueue({.body = llm_fixture("openai/chat-stream-tool-call.sse"), .chunk = 1});
    server.enqueue({.body = llm_fixture("openai/chat-stream-tool-calls-parallel.sse")});
    auto provider = openai_at(server);
    const auto one = provider->step(weather_request(), {});
    REQUIRE(one.tool_calls.size() == 1);
    CHECK(one.tool_calls[0].name == "GetWeatherArgs");
    CHECK(one.tool_calls[0].input ==
          Json{{"city", "Edinburgh"}, {"country", "UK"}, {"units", "c"}});
    CHECK(one.stop_reason == "toolUse");
    CHECK(one.usage.total == 100);

    auto req = weather_request();
    req.messages.push_back(assistant_message("", one.tool_calls));
    req.messages.push_back(tool_result(one.tool_calls[0].id, "{\"temp\":12}"));
    const auto two = provider->step(req, {});
    REQUIRE(two.tool_calls.size() == 2);
    CHECK(two.tool_calls[1].name == "get_stock_price");
    CHECK(two.tool_calls[1].input == Json{{"ticker", "AAPL"}, {"exchange", "NASDAQ"}});

    const auto body = Json::parse(server.requests().at(1).body);
    const auto& messages = body["messages"];
    CHECK(messages[2]["role"] == "assistant");
    CHECK(messages[2]["content"].is_null());
    CHECK(messages[2]["tool_calls"][0]["id"] == one.tool_calls[0].id);
    CHECK(messages[2]["tool_calls"][0]["function"]["arguments"] == one.tool_calls[0].arguments);
    CHECK(messages[3] == Json{{"role", "tool"},
                              {"tool_call_id", one.tool_calls[0].id},
                              {"content", "{\"temp\":12}"}});
  }

  TEST_CASE("anthropic streams a tool call through a configured provider") {
    FakeLlmServer server;
    server.enqueue({.body = llm_fixture("anthropic/messages-stream-text-tool-use.sse")});
    const std::map<std::string, ProviderConfig> configured{{"claude",
                                                            {.api = "anthropic-messages",
                                                             .base_url = server.url("/"),
                                                             .api_key_env = "CLAUDE_KEY",
                                                             .headers = {{"x-extra", "1"}}}}};
    auto provider =
        make_provider("claude", configured, env_of({{"CLAUDE_KEY", k_key}}), fast_settings());
    auto req = weather_request();
    req.messages.push_back(assistant_message(
        "",
        {{.id = "toolu_1", .name = "get_weather", .arguments = "{}", .input = Json::object()}}));
    req.messages.push_back(tool_result("toolu_1", "sunny", true));
    req.messages.push_back(user_message("and tomorrow?"));
    const auto r = provider->step(req, {});
    REQUIRE(r.tool_calls.size() == 1);
    CHECK(r.tool_calls[0].input == Json{{"location", "San Francisco, CA"}});
    CHECK(r.usage.input == 599);
    CHECK(r.usage.output == 135);
    CHECK(r.provider == "claude");

    const auto sent = server.requests().at(0);
    CHECK(sent.path == "/v1/messages");
    CHECK(sent.headers.find("x-api-key")->second == k_key);
    CHECK(sent.headers.find("anthropic-version")->second == "2023-06-01");
    CHECK(sent.headers.find("x-extra")->second == "1");
    const auto body = Json::parse(sent.body);
    CHECK(body["system"] == "Be brief.");
    CHECK(body["max_tokens"] == 100);
    CHECK(body["tools"][0]["input_schema"] == Json{{"type", "object"}});
    const auto& m = body["messages"];
    REQUIRE(m.size() == 3); // user, assistant, user(tool_result + text): roles alternate
    CHECK(m[1]["content"][0]["type"] == "tool_use");
    CHECK(m[2]["content"][0] == Json{{"type", "tool_result"},
                                     {"tool_use_id", "toolu_1"},
                                     {"content", "sunny"},
                                     {"is_error", true}});
    CHECK(m[2]["content"][1] == Json{{"type", "text"}, {"text", "and tomorrow?"}});
  }

  TEST_CASE("a 401 is not retried and its hint names the key variable, never the key") {
    FakeLlmServer server;
    server.enqueue({.status = 401,
                    .body = "{\"error\":{\"message\":\"Incorrect API key provided: " +
                            std::string(k_key) + "\",\"code\":\"invalid_api_key\"}}",
                    .content_type = "application/json"});
    auto provider = openai_at(server);
    const auto e = error_of(*provider, weather_request());
    CHECK(e.type == "provider_auth_failed");
    CHECK(e.details.find("OPENAI_API_KEY") != std::string::npos);
    CHECK(e.message.find("Incorrect API key provided") != std::string::npos);
    CHECK(e.message.find(k_key) == std::string::npos);
    CHECK(server.requests().size() == 1);
  }

  TEST_CASE("a 400 quotes the provider's message and is not retried") {
    FakeLlmServer server;
    server.enqueue({.status = 400,
                    .body = llm_fixture("openai/error-400-unsupported-parameter.json"),
                    .content_type = "application/json"});
    auto provider = openai_at(server);
    const auto e = error_of(*provider, weather_request());
    CHECK(e.type == "provider_bad_request");
    CHECK(e.message.find("Unsupported parameter: 'max_tokens'") != std::string::npos);
    CHECK(server.requests().size() == 1);
  }

  TEST_CASE("a 429 with retry-after is retried, then the stream succeeds") {
    FakeLlmServer server;
    server.enqueue({.status = 429,
                    .body = R"({"error":{"message":"slow down"}})",
                    .content_type = "application/json",
                    .headers = {{"retry-after", "0"}}});
    server.enqueue({.status = 529,
                    .body = R"({"type":"error","error":{"message":"Overloaded"}})",
                    .content_type = "application/json",
                    .headers = {{"retry-after-ms", "5"}}});
    server.enqueue({.body = llm_fixture("openai/chat-stream-text-usage.sse")});
    std::vector<std::string> log;
    auto provider = openai_at(server, &log);
    const auto r = provider->step(weather_request(), {});
    CHECK(r.usage.total == 44);
    CHECK(server.requests().size() == 3);
    CHECK(std::count_if(log.begin(), log.end(),
                        [](const auto& l) { return l.starts_with("retrying"); }) == 2);
  }

  TEST_CASE("retries stop at max_retries, at x-should-retry false and at insufficient_quota") {
    FakeLlmServer server;
    auto provider = openai_at(server);
    SUBCASE("persistent 503") {
      for (int i = 0; i < 3; ++i)
        server.enqueue({.status = 503, .body = "upstream down", .content_type = "text/plain"});
      const auto e = error_of(*provider, weather_request());
      CHECK(e.type == "provider_unavailable");
      CHECK(e.message.find("upstream down") != std::string::npos);
      CHECK(server.requests().size() == 3);
    }
    SUBCASE("x-should-retry false") {
      server.enqueue({.status = 500,
                      .body = "{}",
                      .content_type = "application/json",
                      .headers = {{"x-should-retry", "false"}}});
      CHECK(error_of(*provider, weather_request()).type == "provider_unavailable");
      CHECK(server.requests().size() == 1);
    }
    SUBCASE("insufficient quota") {
      server.enqueue(
          {.status = 429,
           .body =
               R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota"}})",
           .content_type = "application/json"});
      CHECK(error_of(*provider, weather_request()).type == "provider_quota_exceeded");
      CHECK(server.requests().size() == 1);
    }
    SUBCASE("a retry-after longer than the limit is not waited for") {
      server.enqueue({.status = 429,
                      .body = "{}",
                      .content_type = "application/json",
                      .headers = {{"retry-after", "3600"}}});
      CHECK(error_of(*provider, weather_request()).type == "provider_rate_limited");
      CHECK(server.requests().size() == 1);
    }
  }

  TEST_CASE("a missing key names the variable to set") {
    const auto check = [](std::string_view id, std::string_view var) {
      try {
        make_provider(id, {}, env_of({}), {});
        FAIL("no error");
      } catch (const hearth::Error& e) {
        CHECK(e.info().type == "provider_missing_key");
        CHECK(e.info().details.starts_with("Set " + std::string(var)));
      }
    };
    check("openai", "OPENAI_API_KEY");
    check("anthropic", "ANTHROPIC_API_KEY");
    check("openrouter", "OPENROUTER_API_KEY");
    check("gateway", "AI_GATEWAY_API_KEY");
    CHECK(make_provider("ollama", {}, env_of({}), {})->id() == "ollama"); // no key needed
  }

  TEST_CASE("garbage instead of SSE is a clear stream error") {
    FakeLlmServer server;
    server.enqueue(
        {.body = "<html>\r\n<body>Gateway says hi</body>\r\n", .content_type = "text/html"});
    auto provider = openai_at(server);
    const auto e = error_of(*provider, weather_request());
    CHECK(e.type == "provider_stream_invalid");
  }

  TEST_CASE("a refused connection fails clearly within bounded time") {
    RefusingPort port;
    const auto base = "http://127.0.0.1:" + std::to_string(port.port()) + "/v1";
    auto provider =
        make_provider("openai", {}, env_of({{"OPENAI_API_KEY", k_key}, {"OPENAI_BASE_URL", base}}),
                      fast_settings());
    const auto start = std::chrono::steady_clock::now();
    const auto e = error_of(*provider, weather_request());
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    CHECK(e.type == "provider_connection_failed");
    CHECK(e.message.find(base + "/chat/completions") != std::string::npos);
    CHECK(e.message.find("3 attempts") != std::string::npos);
  }
}

TEST_CASE("cancelling a step shuts down a stream whose model says nothing") {
  // A listening socket that never answers: the request is sent, the read waits (read timeout 5 s).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const auto base = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  auto provider =
      make_provider("openai", {}, env_of({{"OPENAI_API_KEY", k_key}, {"OPENAI_BASE_URL", base}}),
                    fast_settings());
  std::stop_source cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    cancel.request_stop();
  });
  auto request = weather_request();
  request.cancel = cancel.get_token();
  const auto started = std::chrono::steady_clock::now();
  const auto e = error_of(*provider, request);
  canceller.join();
  ::close(fd);
  CHECK(e.type == "cancelled");
  CHECK(std::chrono::steady_clock::now() - started < 1s); // not the 5 s read timeout, no retry
}

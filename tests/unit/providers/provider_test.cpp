// Model strings, the provider factory and request-body building (no network).
#include "providers/anthropic_messages.hpp"
#include "providers/http.hpp"
#include "providers/openai_chat.hpp"
#include "providers/provider.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

using namespace hearth::providers;

TEST_SUITE("providers") {
  TEST_CASE("model strings split at the first slash") {
    CHECK(parse_model("openai/gpt-4o").provider == "openai");
    const auto gw = parse_model("gateway/openai/gpt-5");
    CHECK(gw.provider == "gateway");
    CHECK(gw.model == "openai/gpt-5");
    for (const char* bad : {"gpt-4o", "/gpt", "openai/", ""})
      CHECK_THROWS_WITH_AS(parse_model(bad), doctest::Contains("provider/model"), hearth::Error);
  }

  TEST_CASE("the factory rejects unknown ids and unusable configuration") {
    const auto none = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    CHECK_THROWS_WITH_AS(make_provider("acme", {}, none),
                         doctest::Contains("\"acme\" is not known"), hearth::Error);
    CHECK_THROWS_WITH_AS(
        make_provider("acme", {{"acme", {.api = "grpc", .base_url = "http://x"}}}, none),
        doctest::Contains("unknown api \"grpc\""), hearth::Error);
    CHECK_THROWS_WITH_AS(make_provider("acme", {{"acme", {.api = "openai-chat"}}}, none),
                         doctest::Contains("`baseUrl` is required"), hearth::Error);
    CHECK(
        make_provider("acme", {{"acme", {.api = "openai-chat", .base_url = "http://h:1/v1"}}}, none)
            ->id() == "acme");
  }

  TEST_CASE("base URLs split into host and path prefix; logged URLs are redacted") {
    const auto b = split_base_url("p", "https://openrouter.ai/api/v1/");
    CHECK(b.scheme_host_port == "https://openrouter.ai");
    CHECK(b.path_prefix == "/api/v1");
    CHECK(split_base_url("p", "http://127.0.0.1:11434").path_prefix.empty());
    CHECK_THROWS_AS(split_base_url("p", "ftp://x"), hearth::Error);
    CHECK_THROWS_AS(split_base_url("p", "https://"), hearth::Error);
    CHECK(redact_url("https://user:pw@host/v1?key=abc") == "https://host/v1");
  }

  TEST_CASE("error bodies give the provider's message with the key scrubbed") {
    CHECK(error_body_message(R"({"error":{"message":"bad key sk-abcdef"}})", "sk-abcdef") ==
          "bad key ***");
    CHECK(error_body_message(R"({"type":"error","error":{"type":"x","message":"Overloaded"}})",
                             "") == "Overloaded");
    CHECK(error_body_message(R"({"error":"plain"})", "") == "plain");
    CHECK(error_body_message("  oops \n", "") == "oops");
    CHECK(error_body_message("", "") == "(no message)");
  }

  TEST_CASE("modelOptions map onto each wire format") {
    const StepRequest req{.model = "m",
                          .messages = {user_message("hi")},
                          .options = {{"temperature", 0},
                                      {"topP", 0.9},
                                      {"maxOutputTokens", 50},
                                      {"stopSequences", {"END"}},
                                      {"providerOptions",
                                       {{"openai", {{"reasoningEffort", "high"}}},
                                        {"anthropic", {{"thinking", {{"type", "enabled"}}}}}}}}};
    const auto o = openai_chat_body(req, "openrouter");
    CHECK(o["top_p"] == 0.9);
    CHECK(o["max_tokens"] == 50);
    CHECK(o["stop"] == Json{"END"});
    CHECK(o["reasoning_effort"] == "high");
    CHECK_FALSE(o.contains("providerOptions"));
    CHECK_FALSE(o.contains("tools"));
    const auto a = anthropic_messages_body(req, "anthropic");
    CHECK(a["max_tokens"] == 50);
    CHECK(a["stop_sequences"] == Json{"END"});
    CHECK(a["thinking"]["type"] == "enabled");
    CHECK_FALSE(a.contains("reasoning_effort"));
    CHECK_FALSE(a.contains("system"));
    CHECK(anthropic_messages_body({.model = "m"}, "anthropic")["max_tokens"] ==
          k_anthropic_default_max_tokens);
  }
}

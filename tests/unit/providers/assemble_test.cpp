// Every recorded stream in tests/fixtures/llm assembles exactly as its *.assembled.json says,
// whatever the read sizes, and the sink's deltas add up to the same result.
#include "providers/anthropic_messages.hpp"
#include "providers/openai_chat.hpp"

#include "core/error.hpp"
#include "fake_llm_server.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace hearth::providers;

namespace {

struct Recorder {
  std::string text, thinking;
  std::map<std::size_t, std::string> starts, args;
  std::size_t ends = 0;
  StreamSink sink() {
    return {.on_text_delta = [this](std::string_view d) { text += d; },
            .on_thinking_delta = [this](std::string_view d) { thinking += d; },
            .on_tool_call_start =
                [this](std::size_t i, std::string_view id, std::string_view name) {
                  starts[i] = std::string(id) + "/" + std::string(name);
                },
            .on_tool_call_delta = [this](std::size_t i, std::string_view d) { args[i] += d; },
            .on_tool_call_end = [this](std::size_t, const ToolCall&) { ++ends; }};
  }
};

template <typename Assembler>
StepResult assemble(const std::string& sse, std::size_t piece, Recorder& rec) {
  const auto sink = rec.sink();
  Assembler assembler("test", sink);
  SseParser parser([&](const SseEvent& e) { assembler.on_event(e); });
  for (std::size_t i = 0; i < sse.size(); i += piece)
    parser.feed(std::string_view(sse).substr(i, piece));
  parser.finish();
  return assembler.finish();
}

void check_sink(const Recorder& rec, const StepResult& r) {
  CHECK(rec.text == r.text);
  CHECK(rec.ends == r.tool_calls.size());
  for (std::size_t i = 0; i < r.tool_calls.size(); ++i) {
    CHECK(rec.starts.at(i) == r.tool_calls[i].id + "/" + r.tool_calls[i].name);
    CHECK(rec.args.at(i) == r.tool_calls[i].arguments);
  }
}

} // namespace

TEST_SUITE("providers") {
  TEST_CASE("openai chat streams assemble as recorded") {
    for (const std::string name :
         {"chat-stream-text-usage", "chat-stream-tool-call", "chat-stream-tool-calls-parallel"}) {
      const auto sse = llm_fixture("openai/" + name + ".sse");
      const auto expected = Json::parse(llm_fixture("openai/" + name + ".assembled.json"));
      for (std::size_t piece : {sse.size(), std::size_t{1}, std::size_t{13}, std::size_t{512}}) {
        CAPTURE(name);
        CAPTURE(piece);
        Recorder rec;
        const auto r = assemble<OpenAiChatAssembler>(sse, piece, rec);
        const auto& choice = expected["choices"][0];
        CHECK(r.response_id == expected["id"]);
        CHECK(r.model == expected["model"]);
        CHECK(r.text == choice["content"]);
        CHECK(r.raw_stop_reason == choice["finish_reason"]);
        CHECK(r.stop_reason == (choice["tool_calls"].empty() ? "stop" : "toolUse"));
        REQUIRE(r.tool_calls.size() == choice["tool_calls"].size());
        for (std::size_t i = 0; i < r.tool_calls.size(); ++i) {
          const auto& want = choice["tool_calls"][i];
          CHECK(r.tool_calls[i].id == want["id"]);
          CHECK(r.tool_calls[i].name == want["name"]);
          CHECK(r.tool_calls[i].arguments == want["arguments"]);
          CHECK(r.tool_calls[i].input == want["arguments_parsed"]);
          CHECK_FALSE(r.tool_calls[i].input_error.has_value());
        }
        CHECK(r.usage.input == expected["usage"]["prompt_tokens"]);
        CHECK(r.usage.output == expected["usage"]["completion_tokens"]);
        CHECK(r.usage.total == expected["usage"]["total_tokens"]);
        check_sink(rec, r);
      }
    }
  }

  TEST_CASE("anthropic message streams assemble as recorded") {
    for (const std::string name : {"messages-stream-text", "messages-stream-text-tool-use"}) {
      const auto sse = llm_fixture("anthropic/" + name + ".sse");
      const auto expected = Json::parse(llm_fixture("anthropic/" + name + ".assembled.json"));
      for (std::size_t piece : {sse.size(), std::size_t{1}, std::size_t{29}}) {
        CAPTURE(name);
        CAPTURE(piece);
        Recorder rec;
        const auto r = assemble<AnthropicAssembler>(sse, piece, rec);
        CHECK(r.response_id == expected["id"]);
        CHECK(r.model == expected["model"]);
        CHECK(r.raw_stop_reason == expected["stop_reason"]);
        std::string text;
        std::vector<Json> calls;
        for (const auto& block : expected["content"]) {
          if (block["type"] == "text")
            text += block["text"].get<std::string>();
          else
            calls.push_back(block);
        }
        CHECK(r.text == text);
        REQUIRE(r.tool_calls.size() == calls.size());
        for (std::size_t i = 0; i < calls.size(); ++i) {
          CHECK(r.tool_calls[i].id == calls[i]["id"]);
          CHECK(r.tool_calls[i].name == calls[i]["name"]);
          CHECK(r.tool_calls[i].input == calls[i]["input"]);
        }
        CHECK(r.usage.input == expected["usage"]["input_tokens"]);
        CHECK(r.usage.output == expected["usage"]["output_tokens"]);
        CHECK(r.usage.total == r.usage.input + r.usage.output);
        check_sink(rec, r);
      }
    }
  }

  TEST_CASE("openai assembler reports truncated streams, non-JSON data and in-stream errors") {
    Recorder rec;
    SUBCASE("no chunk at all") {
      CHECK_THROWS_WITH_AS(assemble<OpenAiChatAssembler>(": keep-alive\n\n", 4, rec),
                           doctest::Contains("without a completion chunk"), hearth::Error);
    }
    SUBCASE("cut before finish_reason") {
      const std::string sse = R"(data: {"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}]})"
                              "\n\n";
      CHECK_THROWS_WITH_AS(assemble<OpenAiChatAssembler>(sse, 5, rec),
                           doctest::Contains("before the completion finished"), hearth::Error);
    }
    SUBCASE("garbage") {
      CHECK_THROWS_WITH_AS(assemble<OpenAiChatAssembler>("data: <html>oops\n\n", 3, rec),
                           doctest::Contains("not a JSON object: <html>oops"), hearth::Error);
    }
    SUBCASE("error object") {
      const std::string sse = R"(data: {"error":{"message":"model overloaded"}})"
                              "\n\n";
      CHECK_THROWS_WITH_AS(assemble<OpenAiChatAssembler>(sse, 64, rec),
                           doctest::Contains("model overloaded"), hearth::Error);
    }
  }

  TEST_CASE("openai assembler treats empty continuation ids and names as absent") {
    const std::string sse =
        R"(data: {"choices":[{"index":0,"delta":{"reasoning_content":"think"}}]})"
        "\n\n"
        R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{\"a\""}}]}}]})"
        "\n\n"
        R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","function":{"name":"","arguments":":1}"}}]}}]})"
        "\n\n"
        R"(data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4}}})"
        "\n\n"
        "data: [DONE]\n\n";
    Recorder rec;
    const auto r = assemble<OpenAiChatAssembler>(sse, 11, rec);
    REQUIRE(r.tool_calls.size() == 1);
    CHECK(r.tool_calls[0].id == "c1");
    CHECK(r.tool_calls[0].name == "f");
    CHECK(r.tool_calls[0].input == Json{{"a", 1}});
    CHECK(r.thinking == "think");
    CHECK(rec.thinking == "think");
    CHECK(r.usage.input == 6);
    CHECK(r.usage.cache_read == 4);
    CHECK(r.usage.total == 12);
  }

  TEST_CASE("tool calls with unparsable arguments keep the raw text and an error") {
    const std::string sse =
        R"(data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":"{oops"}}]},"finish_reason":"tool_calls"}]})"
        "\n\n";
    Recorder rec;
    const auto r = assemble<OpenAiChatAssembler>(sse, 100, rec);
    REQUIRE(r.tool_calls.size() == 1);
    CHECK(r.tool_calls[0].arguments == "{oops");
    CHECK(r.tool_calls[0].input.is_null());
    CHECK(r.tool_calls[0].input_error.has_value());
  }

  TEST_CASE("anthropic assembler reports in-stream errors and early ends") {
    Recorder rec;
    SUBCASE("overloaded") {
      const std::string sse = "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": "
                              "\"overloaded_error\", \"message\": \"Overloaded\"}}\n\n";
      CHECK_THROWS_WITH_AS(assemble<AnthropicAssembler>(sse, 9, rec),
                           doctest::Contains("Overloaded"), hearth::Error);
    }
    SUBCASE("cut off") {
      const std::string sse =
          "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n";
      CHECK_THROWS_WITH_AS(assemble<AnthropicAssembler>(sse, 9, rec),
                           doctest::Contains("before message_stop"), hearth::Error);
    }
    SUBCASE("a tool with no arguments has input {}") {
      const std::string sse =
          "data: "
          "{\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":3,"
          "\"cache_read_input_tokens\":5}}}\n\n"
          "data: "
          "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\","
          "\"id\":\"t\",\"name\":\"now\",\"input\":{}}}\n\n"
          "data: "
          "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
          "\"partial_json\":\"\"}}\n\n"
          "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
          "data: "
          "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{"
          "\"output_tokens\":7}}\n\n"
          "data: {\"type\":\"message_stop\"}\n\n";
      const auto r = assemble<AnthropicAssembler>(sse, 17, rec);
      REQUIRE(r.tool_calls.size() == 1);
      CHECK(r.tool_calls[0].arguments == "{}");
      CHECK(r.tool_calls[0].input == Json::object());
      CHECK(r.stop_reason == "toolUse");
      CHECK(r.usage.input == 3);
      CHECK(r.usage.cache_read == 5);
      CHECK(r.usage.output == 7);
      CHECK(r.usage.total == 15);
    }
  }
}

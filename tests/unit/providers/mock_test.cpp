// The mock provider: echo, `finish` filled from a schema, scripted steps and their errors.
#include "providers/mock.hpp"
#include "providers/schema_sample.hpp"

#include "core/error.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <thread>

using namespace hearth::providers;

namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end())
      return std::nullopt;
    return it->second;
  };
}

StepRequest script_request() { return {.model = "script", .messages = {user_message("go")}}; }

std::string error_type(Provider& p, const StepRequest& r) {
  try {
    p.step(r, {});
  } catch (const hearth::Error& e) {
    return e.info().type;
  }
  return "no error";
}

} // namespace

TEST_SUITE("providers") {
  TEST_CASE("mock/echo answers with the last user message, streamed in a few deltas") {
    auto mock = make_provider("mock", {}, env_of({}));
    const StepRequest req{.model = "echo",
                          .messages = {user_message("first"), assistant_message("ok"),
                                       user_message("héllo wörld, echo me")}};
    std::vector<std::string> deltas;
    const auto r =
        mock->step(req, {.on_text_delta = [&](std::string_view d) { deltas.emplace_back(d); }});
    CHECK(r.text == "héllo wörld, echo me");
    CHECK(r.tool_calls.empty());
    CHECK(r.stop_reason == "stop");
    CHECK(r.provider == "mock");
    CHECK(deltas.size() >= 2);
    std::string joined;
    for (const auto& d : deltas)
      joined += d;
    CHECK(joined == r.text);
    CHECK(r.usage.output == (r.text.size() + 3) / 4);
    CHECK(r.usage.total == r.usage.input + r.usage.output);
  }

  TEST_CASE("mock/echo calls finish with a minimal instance of its schema") {
    auto mock = make_provider("mock", {}, env_of({}));
    const Json schema = {
        {"type", "object"},
        {"properties",
         {{"summary", {{"type", "string"}}},
          {"score", {{"type", "number"}, {"minimum", 1}}},
          {"ok", {{"type", "boolean"}}},
          {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
          {"level", {{"enum", {"low", "high"}}}},
          {"kind", {{"const", "report"}}},
          {"nested",
           {{"type", "object"},
            {"required", {"n"}},
            {"properties", {{"n", {{"type", "integer"}}}}}}},
          {"optional", {{"type", "string"}}}}},
        {"required", {"summary", "score", "ok", "tags", "level", "kind", "nested"}}};
    const StepRequest req{.model = "echo",
                          .messages = {user_message("hi")},
                          .tools = {{.name = "give_up"}, {.name = "finish", .parameters = std::make_shared<const Json>(schema)}}};
    std::size_t starts = 0, ends = 0;
    const auto r = mock->step(req, {.on_tool_call_start = [&](auto, auto, auto) { ++starts; },
                                    .on_tool_call_end = [&](auto, const auto&) { ++ends; }});
    REQUIRE(r.tool_calls.size() == 1);
    CHECK(r.tool_calls[0].name == "finish");
    CHECK(r.tool_calls[0].id == "call_mock_1");
    CHECK(r.tool_calls[0].input == Json{{"summary", ""},
                                        {"score", 1.0},
                                        {"ok", false},
                                        {"tags", Json::array()},
                                        {"level", "low"},
                                        {"kind", "report"},
                                        {"nested", {{"n", 0}}}});
    CHECK(Json::parse(r.tool_calls[0].arguments) == r.tool_calls[0].input);
    CHECK(r.stop_reason == "toolUse");
    CHECK((starts == 1 && ends == 1));
  }

  TEST_CASE("schema_sample follows refs, unions and string constraints") {
    CHECK(schema_sample({{"type", "string"}, {"minLength", 3}}) == "example");
    CHECK(schema_sample({{"type", {"null", "integer"}}}) == 0);
    CHECK(schema_sample({{"anyOf", {{{"type", "boolean"}}, {{"type", "string"}}}}}) == false);
    CHECK(schema_sample({{"type", "string"}, {"format", "date-time"}}) == "1970-01-01T00:00:00Z");
    CHECK(schema_sample({{"type", "array"}, {"minItems", 2}, {"items", {{"type", "integer"}}}}) ==
          Json{0, 0});
    const Json with_ref = {
        {"$defs",
         {{"city",
           {{"type", "object"},
            {"required", {"name"}},
            {"properties", {{"name", {{"type", "string"}, {"minLength", 1}}}}}}}}},
        {"$ref", "#/$defs/city"}};
    CHECK(schema_sample(with_ref) == Json{{"name", "name"}});
    const Json loop = {{"$ref", "#"}};
    CHECK(schema_sample(loop).is_null()); // bounded, no stack overflow
    CHECK(schema_sample({{"type", "string"}, {"minLength", "x"}}).is_null());
  }

  TEST_CASE("mock/script replays text, tool calls and results, then stops clearly") {
    TempProject dir;
    const auto script =
        dir.write("mock.jsonl", "{\"text\": \"hello\"}\n"
                                "\n"
                                "{\"toolCalls\": [{\"name\": \"get_weather\", \"input\": "
                                "{\"city\": \"Paris\"}}, {\"name\": \"now\"}], \"text\": \"x\"}\n"
                                "{\"result\": {\"answer\": 42}}\n");
    auto mock = make_provider("mock", {}, env_of({}), {.mock_script = script});
    const auto a = mock->step(script_request(), {});
    CHECK(a.text == "hello");
    CHECK(a.tool_calls.empty());
    const auto b = mock->step(script_request(), {});
    CHECK(b.text == "x");
    REQUIRE(b.tool_calls.size() == 2);
    CHECK(b.tool_calls[0].id == "call_mock_1");
    CHECK(b.tool_calls[0].input == Json{{"city", "Paris"}});
    CHECK(b.tool_calls[1].id == "call_mock_2");
    CHECK(b.tool_calls[1].input == Json::object());
    auto with_finish = script_request();
    with_finish.tools.push_back({.name = "finish"});
    const auto c = mock->step(with_finish, {});
    REQUIRE(c.tool_calls.size() == 1);
    CHECK(c.tool_calls[0].name == "finish");
    CHECK(c.tool_calls[0].input == Json{{"answer", 42}});
    try {
      mock->step(script_request(), {});
      FAIL("no error past the end");
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "mock_script_exhausted");
      CHECK(e.info().message.find("step 4") != std::string::npos);
      CHECK(e.info().message.find("has 3 steps") != std::string::npos);
    }
  }

  TEST_CASE("HEARTH_MOCK_SCRIPT wins over the path the caller passes") {
    TempProject dir;
    const auto from_env = dir.write("env.jsonl", "{\"text\": \"from env\"}\n");
    const auto passed = dir.write("mock.jsonl", "{\"text\": \"passed\"}\n");
    auto mock = make_provider("mock", {}, env_of({{"HEARTH_MOCK_SCRIPT", from_env.string()}}),
                              {.mock_script = passed});
    CHECK(mock->step(script_request(), {}).text == "from env");
  }

  TEST_CASE("mock reports missing and invalid scripts and unknown models") {
    TempProject dir;
    SUBCASE("missing") {
      auto mock = make_provider("mock", {}, env_of({}), {.mock_script = dir.root() / "nope.jsonl"});
      CHECK(error_type(*mock, script_request()) == "mock_script_not_found");
    }
    SUBCASE("invalid line") {
      const auto bad = dir.write("mock.jsonl", "{\"text\": \"ok\"}\n{\"texts\": 1}\n");
      auto mock = make_provider("mock", {}, env_of({}), {.mock_script = bad});
      try {
        mock->step(script_request(), {});
        FAIL("no error");
      } catch (const hearth::Error& e) {
        CHECK(e.info().type == "mock_script_invalid");
        CHECK(e.info().message.find("mock.jsonl:2") != std::string::npos);
      }
    }
    SUBCASE("unknown model") {
      auto mock = make_provider("mock", {}, env_of({}));
      CHECK(error_type(*mock, {.model = "gpt"}) == "model_invalid");
    }
  }
}

TEST_CASE("mock/script answers a result step as text when no finish tool is offered") {
  TempProject project;
  const auto script = project.write("mock.jsonl", "{\"result\": {\"greeting\": \"hi\"}}\n");
  auto provider = hearth::providers::make_provider(
      "mock", {}, [](std::string_view) { return std::optional<std::string>(); },
      {.mock_script = script});
  const auto step = provider->step({.model = "script"}, {});
  CHECK(step.tool_calls.empty());
  CHECK(step.text == "{\"greeting\":\"hi\"}");
}

TEST_CASE("mock/script holds a step open for delayMs, and a cancelled turn ends the wait at once") {
  TempProject project;
  const auto script = project.write("mock.jsonl", "{\"text\": \"slow\", \"delayMs\": 60000}\n"
                                                  "{\"text\": \"next\", \"delayMs\": 50}\n");
  auto provider = hearth::providers::make_provider(
      "mock", {}, [](std::string_view) { return std::optional<std::string>(); },
      {.mock_script = script});
  std::stop_source cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancel.request_stop();
  });
  const auto started = std::chrono::steady_clock::now();
  try {
    provider->step({.model = "script", .cancel = cancel.get_token()}, {});
    FAIL("the held step was not cancelled");
  } catch (const hearth::Error& e) {
    CHECK(e.info().type == "cancelled");
  }
  canceller.join();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(1));
  // The cancelled step is used up: the next turn reads the next line, after its short delay.
  const auto next_started = std::chrono::steady_clock::now();
  CHECK(provider->step({.model = "script"}, {}).text == "next");
  CHECK(std::chrono::steady_clock::now() - next_started >= std::chrono::milliseconds(50));
}

TEST_CASE("mock/script rejects a delayMs that is not a bounded integer") {
  TempProject project;
  for (const auto* bad : {"\"soon\"", "-1", "600001", "1.5"}) {
    const auto script =
        project.write("mock.jsonl", std::string("{\"text\": \"x\", \"delayMs\": ") + bad + "}\n");
    auto provider = hearth::providers::make_provider(
        "mock", {}, [](std::string_view) { return std::optional<std::string>(); },
        {.mock_script = script});
    CHECK(error_type(*provider, {.model = "script"}) == "mock_script_invalid");
  }
}

// Eval discovery and declarative eval parsing (lib/eval/discover.cpp).
#include "eval/eval.hpp"

#include "core/error.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using hearth::eval::discover;
using hearth::eval::Kind;

TEST_SUITE("eval") {

TEST_CASE("discover finds json, markdown and executable evals with path-derived ids") {
  TempProject p;
  p.write("evals/greeting.eval.json", R"({"input": "hi", "checks": [{"contains": "hi"}]})");
  p.write("evals/weather/tool.eval.md",
          "---\ntags: [smoke]\nchecks:\n  - toolCalled: get_weather\n---\nWeather in Paris?\n");
  p.write("evals/judge.eval.py", "# hearth-eval-tags: llm, slow\nprint('x')\n");
  p.write("evals/custom.eval", "#!/bin/sh\n", /*executable=*/true);
  p.write("evals/notes.md", "not an eval");
  p.write("evals/plain.eval", "not executable");
  p.write("evals/.hidden/x.eval.json", "{}");
  const auto evals = discover(p.root() / "evals", p.root());
  REQUIRE(evals.size() == 4);
  CHECK(evals[0].id == "custom");
  CHECK(evals[0].kind == Kind::script);
  CHECK(evals[1].id == "greeting");
  CHECK(evals[1].kind == Kind::agent);
  CHECK(evals[1].messages == std::vector<std::string>{"hi"});
  CHECK(evals[2].id == "judge");
  CHECK(evals[2].command.front() == "python3");
  CHECK(evals[2].tags == std::vector<std::string>{"llm", "slow"});
  CHECK(evals[3].id == "weather/tool");
  CHECK(evals[3].relative == "evals/weather/tool.eval.md");
  CHECK(evals[3].messages == std::vector<std::string>{"Weather in Paris?"});
  CHECK(evals[3].tags == std::vector<std::string>{"smoke"});
  for (const auto& e : evals) CHECK_FALSE(e.invalid.has_value());
}

TEST_CASE("a bad eval file is an invalid eval, never a crash or a thrown error") {
  TempProject p;
  SUBCASE("not JSON") { p.write("evals/a.eval.json", "{nope"); }
  SUBCASE("unknown field") { p.write("evals/a.eval.json", R"({"input":"x","chekcs":[]})"); }
  SUBCASE("no checks") { p.write("evals/a.eval.json", R"({"input":"x"})"); }
  SUBCASE("unknown check") { p.write("evals/a.eval.json", R"({"input":"x","checks":[{"smells":"ok"}]})"); }
  SUBCASE("two kinds in one check") {
    p.write("evals/a.eval.json", R"({"input":"x","checks":[{"contains":"a","matches":"b"}]})");
  }
  SUBCASE("bad regex") { p.write("evals/a.eval.json", R"({"input":"x","checks":[{"matches":"(a"}]})"); }
  SUBCASE("regex over its bound") {
    p.write("evals/a.eval.json",
            R"({"input":"x","checks":[{"matches":")" + std::string(2000, 'a') + R"("}]})");
  }
  SUBCASE("invalid schema") { p.write("evals/a.eval.json", R"({"input":"x","checks":[{"schema":{"type":5}}]})"); }
  SUBCASE("threshold out of range") {
    p.write("evals/a.eval.json", R"({"input":"x","checks":[{"contains":"a","soft":true,"threshold":2}]})");
  }
  SUBCASE("workflow and input") {
    p.write("evals/a.eval.json", R"({"input":"x","workflow":"w","checks":[{"contains":"a"}]})");
  }
  SUBCASE("negative timeout") {
    p.write("evals/a.eval.json", R"({"input":"x","timeoutMs":-1,"checks":[{"contains":"a"}]})");
  }
  SUBCASE("too large") { p.write("evals/a.eval.json", std::string((1u << 20) + 10, ' ')); }
  SUBCASE("deep JSON") { p.write("evals/a.eval.json", std::string(100000, '[')); }
  SUBCASE("markdown without a body") { p.write("evals/a.eval.md", "---\nchecks:\n  - contains: a\n---\n"); }
  SUBCASE("bad frontmatter") { p.write("evals/a.eval.md", "---\nchecks: [\n---\nhi\n"); }
  const auto evals = discover(p.root() / "evals", p.root());
  REQUIRE(evals.size() == 1);
  REQUIRE(evals[0].invalid.has_value());
  CHECK(evals[0].invalid->info().type == "eval_invalid");
  CHECK(evals[0].invalid->info().message.find("evals/a.eval.") == 0);
}

TEST_CASE("an id used twice leaves the second file invalid") {
  TempProject p;
  p.write("evals/a.eval.json", R"({"input":"x","checks":[{"contains":"x"}]})");
  p.write("evals/a.eval.md", "---\nchecks:\n  - contains: x\n---\nx\n");
  const auto evals = discover(p.root() / "evals", p.root());
  REQUIRE(evals.size() == 2);
  CHECK_FALSE(evals[0].invalid.has_value());
  REQUIRE(evals[1].invalid.has_value());
  CHECK(evals[1].invalid->info().message.find("also used by") != std::string::npos);
}

TEST_CASE("workflow evals carry their payload; input may be a list of messages") {
  const auto w = hearth::eval::parse_declarative(
      R"({"workflow":"hello","payload":{"name":"Ada"},"tags":"ci","timeoutMs":500,
          "checks":[{"equals":"Ada","path":"/name"}]})",
      false, "evals/w.eval.json");
  CHECK(w.kind == Kind::workflow);
  CHECK(w.workflow == "hello");
  CHECK(w.payload == nlohmann::json{{"name", "Ada"}});
  CHECK(w.tags == std::vector<std::string>{"ci"});
  CHECK(w.timeout_ms == 500);
  const auto a = hearth::eval::parse_declarative(
      R"({"messages":["one",{"role":"user","content":"two"}],"checks":[{"maxSteps":3}]})", false,
      "evals/a.eval.json");
  CHECK(a.messages == std::vector<std::string>{"one", "two"});
}

TEST_CASE("discovery stops at its bounds") {
  TempProject p;
  for (int i = 0; i < 5; ++i)
    p.write("evals/e" + std::to_string(i) + ".eval.json", R"({"input":"x","checks":[{"contains":"x"}]})");
  p.write("evals/a/b/c/d/deep.eval.json", R"({"input":"x","checks":[{"contains":"x"}]})");
  hearth::eval::Limits limits;
  limits.max_evals = 3;
  limits.max_depth = 2;
  CHECK(discover(p.root() / "evals", p.root(), limits).size() == 3);
  limits.max_evals = 100;
  const auto all = discover(p.root() / "evals", p.root(), limits);
  CHECK(all.size() == 5); // evals/a/b/c/d is deeper than 2
  CHECK(discover(p.root() / "nope", p.root()).empty());
}

TEST_CASE("ids match exactly or by directory prefix") {
  using hearth::eval::id_matches;
  CHECK(id_matches("weather", "weather"));
  CHECK(id_matches("weather/tool", "weather"));
  CHECK(id_matches("weather/tool", "weather/"));
  CHECK_FALSE(id_matches("weather/tool", "weath"));
  CHECK_FALSE(id_matches("weatherman", "weather"));
  CHECK_FALSE(id_matches("weather", ""));
}

} // TEST_SUITE

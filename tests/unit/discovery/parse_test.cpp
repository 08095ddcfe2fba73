#include "discovery/parse.hpp"

#include <doctest/doctest.h>

using namespace hearth::discovery;

TEST_SUITE("discovery") {
  TEST_CASE("parse_json reports line and column of a syntax error") {
    const auto r = parse_json("{\n  \"a\": 1,\n  \"b\": ]\n}");
    REQUIRE_FALSE(r.value);
    CHECK(r.problem.code == "json-syntax");
    CHECK(r.problem.line == 3);
    CHECK(r.problem.column == 8);
  }

  TEST_CASE("parse_json refuses nesting deeper than the cap before recursing") {
    const std::string ok = std::string(k_max_json_depth, '[') + std::string(k_max_json_depth, ']');
    CHECK(parse_json(ok).value);
    const std::string deep = std::string(k_max_json_depth + 1, '[') + std::string(k_max_json_depth + 1, ']');
    const auto r = parse_json(deep);
    REQUIRE_FALSE(r.value);
    CHECK(r.problem.code == "json-too-deep");
    // Brackets inside strings do not count.
    CHECK(parse_json("{\"s\": \"" + std::string(1000, '[') + "\"}").value);
  }

  TEST_CASE("parse_json rejects invalid UTF-8 and NUL-only garbage") {
    CHECK_FALSE(parse_json("\"\xff\"").value);
    CHECK_FALSE(parse_json(std::string("\0\0", 2)).value);
    CHECK_FALSE(parse_json("").value);
  }

  TEST_CASE("frontmatter: absent, present, typed scalars, body") {
    auto none = parse_frontmatter("# Title\nbody\n");
    CHECK_FALSE(none.present);
    CHECK(none.body == "# Title\nbody\n");

    auto fm = parse_frontmatter("---\ndescription: Hi there\nhttp: true\nmaxSteps: 5\nratio: 0.5\n"
                                "quoted: \"true\"\nempty:\nlist: [a, 2]\n---\nBody {{payload.x}}\n");
    REQUIRE_FALSE(fm.problem);
    CHECK(fm.present);
    CHECK(fm.data["description"] == "Hi there");
    CHECK(fm.data["http"] == true);
    CHECK(fm.data["maxSteps"] == 5);
    CHECK(fm.data["ratio"] == 0.5);
    CHECK(fm.data["quoted"] == "true");
    CHECK(fm.data["empty"].is_null());
    CHECK(fm.data["list"] == nlohmann::json::array({"a", 2}));
    CHECK(fm.body == "Body {{payload.x}}\n");
  }

  TEST_CASE("frontmatter: CRLF, BOM and an empty block") {
    auto fm = parse_frontmatter("\xEF\xBB\xBF---\r\ndescription: x\r\n---\r\nbody");
    REQUIRE_FALSE(fm.problem);
    CHECK(fm.data["description"] == "x");
    CHECK(fm.body == "body");
    auto empty = parse_frontmatter("---\n---\nbody");
    REQUIRE_FALSE(empty.problem);
    CHECK(empty.data.is_object());
  }

  TEST_CASE("frontmatter: YAML errors carry file line and column") {
    auto fm = parse_frontmatter("---\ndescription: ok\nbad: [1, 2\n---\nbody");
    REQUIRE(fm.problem);
    CHECK(fm.problem->code == "yaml-syntax");
    CHECK(fm.problem->line >= 3);
    auto scalar = parse_frontmatter("---\njust a string\n---\n");
    REQUIRE(scalar.problem);
    CHECK(scalar.problem->message.find("mapping") != std::string::npos);
    auto open = parse_frontmatter("---\na: 1\n");
    REQUIRE(open.problem);
    CHECK(open.problem->code == "frontmatter-unterminated");
  }

  TEST_CASE("frontmatter: alias expansion is bounded") {
    std::string yaml = "---\n";
    for (int i = 0; i < 12; ++i) {
      yaml += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
      for (int k = 0; k < 9; ++k) yaml += (k ? "," : "") + (i ? "*l" + std::to_string(i - 1) : std::string("x"));
      yaml += "]\n";
    }
    yaml += "---\n";
    auto fm = parse_frontmatter(yaml);
    REQUIRE(fm.problem);
    CHECK(fm.problem->message.find("too many nodes") != std::string::npos);
  }

  TEST_CASE("cron: valid expressions") {
    for (const char* ok : {"* * * * *", "*/5 * * * *", "0 9 * * 1-5", "0 0 * * 0", "0 0 * * 7",
                           "15,45 9-17/2 1,15 jan-jun MON-FRI", "0 0 1 DEC sun", "@daily", " @hourly "})
      CHECK_MESSAGE(cron_problem(ok).empty(), ok);
  }

  TEST_CASE("cron: invalid expressions say why") {
    CHECK(cron_problem("every day").find("expected 5 fields") != std::string::npos);
    CHECK(cron_problem("61 * * * *").find("minute") != std::string::npos);
    CHECK(cron_problem("* 24 * * *").find("hour") != std::string::npos);
    CHECK(cron_problem("* * 0 * *").find("day-of-month") != std::string::npos);
    CHECK(cron_problem("* * * 13 *").find("month") != std::string::npos);
    CHECK(cron_problem("* * * * 8").find("day-of-week") != std::string::npos);
    CHECK(cron_problem("*/0 * * * *").find("step") != std::string::npos);
    CHECK(cron_problem("5-1 * * * *").find("backwards") != std::string::npos);
    CHECK_FALSE(cron_problem("* * * * * *").empty());
    CHECK_FALSE(cron_problem("1,,2 * * * *").empty());
    CHECK_FALSE(cron_problem("@sometimes").empty());
  }

  TEST_CASE("is_text and first_line") {
    CHECK(is_text("plain ascii\n"));
    CHECK(is_text("caf\xC3\xA9 \xF0\x9F\x94\xA5"));
    CHECK_FALSE(is_text(std::string("a\0b", 3)));
    CHECK_FALSE(is_text("\xC3"));         // truncated sequence
    CHECK_FALSE(is_text("\xC0\xAF"));     // overlong
    CHECK_FALSE(is_text("\xED\xA0\x80")); // surrogate
    CHECK(first_line("\n\n  # Heading here  \nmore") == "Heading here");
    CHECK(first_line("") == "");
  }
}

TEST_SUITE("discovery") {
  TEST_CASE("parse_json turns number overflow into a problem (found by fuzz_json)") {
    const auto r = parse_json("[1e614, 2]");
    REQUIRE_FALSE(r.value);
    CHECK(r.problem.code == "json-syntax");
    CHECK(r.problem.message.find("number overflow") != std::string::npos);
  }
}

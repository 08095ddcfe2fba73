#include "core/json.hpp"

#include <doctest/doctest.h>

#include <string>

using hearth::json_nesting_depth;
using hearth::parse_json;
using hearth::parse_json_or_discarded;

TEST_SUITE("core") {
  TEST_CASE("json_nesting_depth counts brackets outside strings and stops past the limit") {
    CHECK(json_nesting_depth("1") == 0);
    CHECK(json_nesting_depth("[]") == 1);
    CHECK(json_nesting_depth(R"({"a":[{"b":[]}]})") == 4);
    CHECK(json_nesting_depth(R"(["[[[[", "\"[[["])") == 1);
    CHECK(json_nesting_depth(std::string(100000, '['), 512) == 513);
  }

  TEST_CASE("parse_json refuses nesting past the limit with a parse error naming it") {
    const std::string deep = std::string(30000, '[') + std::string(30000, ']');
    try {
      (void)parse_json(deep);
      FAIL("a 30,000-deep array parsed");
    } catch (const nlohmann::json::parse_error& e) {
      CHECK(std::string(e.what()).find("deeper than 512 levels") != std::string::npos);
    }
    const std::string ok = std::string(512, '[') + std::string(512, ']');
    CHECK(parse_json(ok).is_array());
    CHECK_THROWS_AS((void)parse_json("{"), nlohmann::json::parse_error);
    CHECK(parse_json(R"({"a":1})").at("a") == 1);
  }

  TEST_CASE("json_fits bounds a value's text size, and stops early on a large one") {
    using hearth::json_fits;
    using nlohmann::json;
    CHECK(json_fits(json::object(), 16));
    CHECK(json_fits(json{{"name", "World"}}, 64));
    CHECK_FALSE(json_fits(json{{"name", std::string(100, 'x')}}, 64));
    CHECK_FALSE(json_fits(json(std::string(65, 'x')), 64));
    json many = json::array();
    for (int i = 0; i < 1000; ++i) many.push_back(i);
    CHECK_FALSE(json_fits(many, 1024)); // about 5 bytes a number
    CHECK(json_fits(many, 64 * 1024));
    // Deep nesting is walked without recursion.
    json deep = json::array();
    json* cursor = &deep;
    for (int i = 0; i < 10000; ++i) {
      cursor->push_back(json::array());
      cursor = &cursor->back();
    }
    CHECK_FALSE(json_fits(deep, 1024));
    CHECK(json_fits(deep, 1 << 20));
  }

  TEST_CASE("parse_json_or_discarded never throws") {
    CHECK(parse_json_or_discarded("{").is_discarded());
    CHECK(parse_json_or_discarded(std::string(1000, '{')).is_discarded());
    CHECK(parse_json_or_discarded("[1,2]").size() == 2);
  }
}

#include "core/text.hpp"

#include <doctest/doctest.h>

using namespace hearth::text;

TEST_SUITE("core") {
  TEST_CASE("edit distance counts inserts, deletes and substitutions") {
    CHECK(edit_distance("run", "run") == 0);
    CHECK(edit_distance("runn", "run") == 1);
    CHECK(edit_distance("rn", "run") == 1);
    CHECK(edit_distance("rum", "run") == 1);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("kitten", "sitting") == 3);
  }

  TEST_CASE("nearest suggests within two edits, else a prefix match, else nothing") {
    const std::vector<std::string> commands{"init", "dev", "run", "connect", "build", "logs", "info"};
    CHECK(nearest("runn", commands) == "run");
    CHECK(nearest("biuld", commands) == "build");
    CHECK(nearest("conn", commands) == "connect");
    CHECK_FALSE(nearest("zzzzzz", commands).has_value());
  }

  TEST_CASE("quote_list quotes and joins names") {
    CHECK(quote_list({}) == "");
    CHECK(quote_list({"a"}) == "\"a\"");
    CHECK(quote_list({"calc", "hello"}) == "\"calc\", \"hello\"");
  }

  TEST_CASE("split keeps empty pieces and trim drops outer whitespace") {
    CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
    CHECK(trim("  x y \t\n") == "x y");
  }
}

// json_schema::shared_validator (issue 17 §3): a schema is compiled once per process, not per turn.
#include "core/json_schema.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using nlohmann::json;

TEST_SUITE("core") {

TEST_CASE("shared_validator compiles each distinct schema once and shares it") {
  const json schema = {{"type", "object"},
                       {"properties", {{"greeting", {{"type", "string"}}}}},
                       {"required", {"greeting"}}};
  const auto first = hearth::json_schema::shared_validator(schema);
  const auto again = hearth::json_schema::shared_validator(json::parse(schema.dump()));
  CHECK(first.get() == again.get());
  CHECK(first->validate({{"greeting", "hi"}}).empty());
  CHECK(!first->validate({{"greeting", 5}}).empty());
  const auto other = hearth::json_schema::shared_validator({{"type", "string"}});
  CHECK(other.get() != first.get());
  CHECK_THROWS_AS(hearth::json_schema::shared_validator({{"type", 5}}), std::invalid_argument);
}

} // TEST_SUITE

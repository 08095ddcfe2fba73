#include "core/error.hpp"
#include "store/offsets.hpp"

#include <doctest/doctest.h>

#include <random>

using hearth::store::format_offset;
using hearth::store::parse_offset;
using Kind = hearth::store::StreamOffset::Kind;

TEST_SUITE("store") {

TEST_CASE("format_offset pads the seq as Flue 0.11 does") {
  CHECK(format_offset(0) == "0000000000000000_0000000000000000");
  CHECK(format_offset(25) == "0000000000000000_0000000000000025");
  CHECK(format_offset(1234567890123456) == "0000000000000000_1234567890123456");
  CHECK(format_offset(-1) == "-1");
}

TEST_CASE("parse_offset accepts the start, the tail and the 16_16 form") {
  CHECK(parse_offset("-1").kind == Kind::start);
  CHECK(parse_offset("-1").after_seq == -1);
  CHECK(parse_offset("now").kind == Kind::now);
  const auto at = parse_offset("0000000000000000_0000000000000023");
  CHECK(at.kind == Kind::after);
  CHECK(at.after_seq == 23);
  CHECK(parse_offset("0000000000000007_0000000000000001").after_seq == 1);
  CHECK(parse_offset("0000000000000000_9999999999999999").after_seq == 9999999999999999);
  for (const std::int64_t seq : {0LL, 1LL, 99LL, 123456789LL})
    CHECK(parse_offset(format_offset(seq)).after_seq == seq);
}

TEST_CASE("parse_offset rejects anything else with invalid_offset") {
  for (const char* bad :
       {"", "abc", "-2", "0", "23", "NOW", " now", "-1 ", "0000000000000000_000000000000002",
        "0000000000000000_00000000000000023", "000000000000000_0000000000000023",
        "0000000000000000-0000000000000023", "0000000000000000_-000000000000023",
        "0000000000000000_+000000000000023", "0000000000000000_00000000000000x3",
        "0000000000000000__000000000000023", "\xff\xfe"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parse_offset(bad), "Invalid offset format.", hearth::Error);
  }
  try {
    parse_offset("abc");
  } catch (const hearth::Error& e) {
    CHECK(e.info().type == "invalid_request");
    CHECK(e.info().http_status == 400);
  }
}

TEST_CASE("parse_offset survives random garbage") {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string text(rng() % 40, '\0');
    for (auto& c : text) c = static_cast<char>(rng() % 2 ? '0' + rng() % 10 : rng() % 256);
    if (text.size() > 16 && rng() % 2) text[16] = '_';
    try {
      const auto parsed = parse_offset(text);
      CHECK(parsed.after_seq >= -1);
    } catch (const hearth::Error& e) {
      CHECK(e.info().type == "invalid_request");
    }
  }
}

} // TEST_SUITE

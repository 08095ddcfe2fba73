// Cron parsing (fields, names, steps, macros, Vixie's day OR rule) and the bounded next-fire search.
#include "core/cron.hpp"

#include <doctest/doctest.h>

#include <ctime>

using namespace hearth;

namespace {

std::int64_t at(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(::timegm(&tm));
}

cron::Spec spec(const char* expr) {
  std::string why;
  auto parsed = cron::parse(expr, &why);
  REQUIRE_MESSAGE(parsed.has_value(), expr, ": ", why);
  return *parsed;
}

std::string next(const char* expr, std::int64_t after) {
  const auto t = cron::next_after(spec(expr), after);
  return t ? cron::iso(*t) : std::string("never");
}

} // namespace

TEST_SUITE("cron") {
  TEST_CASE("every minute fires at the next whole minute, strictly after") {
    CHECK(next("* * * * *", at(2026, 11, 30, 19, 40, 0)) == "2026-11-30T19:41:00.000Z");
    CHECK(next("* * * * *", at(2026, 11, 30, 19, 40, 59)) == "2026-11-30T19:41:00.000Z");
    CHECK(next("* * * * *", at(2026, 12, 31, 23, 59, 30)) == "2027-01-01T00:00:00.000Z");
  }

  TEST_CASE("ranges, steps and lists") {
    CHECK(next("*/15 * * * *", at(2026, 11, 30, 19, 40)) == "2026-11-30T19:45:00.000Z");
    CHECK(next("5/20 * * * *", at(2026, 11, 30, 19, 46)) == "2026-11-30T20:05:00.000Z");
    CHECK(next("0 9-17/4 * * *", at(2026, 11, 30, 13, 0)) == "2026-11-30T17:00:00.000Z");
    CHECK(next("0 9-17/4 * * *", at(2026, 11, 30, 17, 0)) == "2026-12-01T09:00:00.000Z");
    CHECK(next("10,20,30 * * * *", at(2026, 11, 30, 19, 20)) == "2026-11-30T19:30:00.000Z");
    CHECK(next("0 0 1,15 * *", at(2026, 12, 2)) == "2026-12-15T00:00:00.000Z");
  }

  TEST_CASE("month and weekday names, in any case and in ranges") {
    // 2026-11-30 is a Monday.
    CHECK(next("0 9 * * MON-FRI", at(2026, 12, 4, 10)) == "2026-12-07T09:00:00.000Z");
    CHECK(next("0 9 * * sat", at(2026, 11, 30)) == "2026-12-05T09:00:00.000Z");
    CHECK(next("0 0 1 JAN *", at(2026, 11, 30)) == "2027-01-01T00:00:00.000Z");
    CHECK(next("0 0 1 jun-aug *", at(2026, 11, 30)) == "2027-06-01T00:00:00.000Z");
  }

  TEST_CASE("day-of-week 7 is Sunday, like 0") {
    CHECK(next("0 0 * * 7", at(2026, 11, 30)) == "2026-12-06T00:00:00.000Z");
    CHECK(next("0 0 * * 0", at(2026, 11, 30)) == "2026-12-06T00:00:00.000Z");
  }

  TEST_CASE("macros expand to their five fields") {
    CHECK(next("@hourly", at(2026, 11, 30, 19, 40)) == "2026-11-30T20:00:00.000Z");
    CHECK(next("@daily", at(2026, 11, 30, 19, 40)) == "2026-12-01T00:00:00.000Z");
    CHECK(next("@midnight", at(2026, 11, 30, 19, 40)) == "2026-12-01T00:00:00.000Z");
    CHECK(next("@weekly", at(2026, 11, 30, 19, 40)) == "2026-12-06T00:00:00.000Z");
    CHECK(next("@monthly", at(2026, 11, 30, 19, 40)) == "2026-12-01T00:00:00.000Z");
    CHECK(next("@yearly", at(2026, 11, 30, 19, 40)) == "2027-01-01T00:00:00.000Z");
    CHECK(next("@annually", at(2026, 11, 30, 19, 40)) == "2027-01-01T00:00:00.000Z");
  }

  TEST_CASE("both day fields restricted: either matches (Vixie's OR rule)") {
    // The 13th OR any Friday: Friday 2026-12-04 comes first.
    CHECK(next("0 0 13 * 5", at(2026, 12, 1)) == "2026-12-04T00:00:00.000Z");
    CHECK(next("0 0 13 * 5", at(2026, 12, 11, 1)) == "2026-12-13T00:00:00.000Z");
  }

  TEST_CASE("one day field starred: both must match (a leading * counts as starred)") {
    CHECK(next("0 0 13 * *", at(2026, 12, 1)) == "2026-12-13T00:00:00.000Z");
    CHECK(next("0 0 * * 5", at(2026, 12, 1)) == "2026-12-04T00:00:00.000Z");
    // */2 in day-of-month is "starred": Fridays that are odd days only.
    CHECK(next("0 0 */2 * 5", at(2026, 12, 1)) == "2026-12-11T00:00:00.000Z");
  }

  TEST_CASE("Feb 29 is found years ahead; an impossible date is never, without looping forever") {
    CHECK(next("0 0 29 2 *", at(2026, 11, 30)) == "2028-02-29T00:00:00.000Z");
    CHECK(next("0 0 31 2 *", at(2026, 11, 30)) == "never");
    CHECK(next("0 0 30 2 *", at(2026, 11, 30)) == "never");
  }

  TEST_CASE("the last fire at or before a time, above an exclusive floor") {
    const auto s = spec("*/10 * * * *");
    auto last = cron::last_at_or_before(s, at(2026, 11, 30, 19, 45), at(2026, 11, 30, 19, 0));
    REQUIRE(last);
    CHECK(cron::iso(*last) == "2026-11-30T19:40:00.000Z");
    CHECK(cron::last_at_or_before(s, at(2026, 11, 30, 19, 40), at(2026, 11, 30, 19, 40)) ==
          std::nullopt);
    CHECK(cron::last_at_or_before(spec("0 0 31 2 *"), at(2026, 11, 30), 0) == std::nullopt);
  }

  TEST_CASE("matches a minute") {
    CHECK(cron::matches(spec("40 19 * * mon"), at(2026, 11, 30, 19, 40, 30)));
    CHECK_FALSE(cron::matches(spec("40 19 * * tue"), at(2026, 11, 30, 19, 40)));
  }

  TEST_CASE("invalid expressions say why") {
    CHECK(cron::problem("every day").find("expected 5 fields") != std::string::npos);
    CHECK(cron::problem("* * * * * *").find("found 6") != std::string::npos);
    CHECK(cron::problem("61 * * * *").find("minute \"61\" is outside 0-59") != std::string::npos);
    CHECK(cron::problem("* 24 * * *").find("hour") != std::string::npos);
    CHECK(cron::problem("* * 0 * *").find("day-of-month") != std::string::npos);
    CHECK(cron::problem("* * * 13 *").find("month") != std::string::npos);
    CHECK(cron::problem("* * * * 8").find("day-of-week") != std::string::npos);
    CHECK(cron::problem("* * * * fun").find("day-of-week") != std::string::npos);
    CHECK(cron::problem("* * * foo *").find("name") != std::string::npos);
    CHECK(cron::problem("*/0 * * * *").find("step") != std::string::npos);
    CHECK(cron::problem("*/x * * * *").find("step") != std::string::npos);
    CHECK(cron::problem("5-1 * * * *").find("backwards") != std::string::npos);
    CHECK(cron::problem("1,,2 * * * *").find("empty") != std::string::npos);
    CHECK(cron::problem("@sometimes").find("unknown macro") != std::string::npos);
    CHECK(cron::problem("1-2-3 * * * *") != "");
    CHECK(cron::problem(std::string(300, '*')).find("256") != std::string::npos);
    CHECK(cron::problem("").find("found 0") != std::string::npos);
  }

  TEST_CASE("valid expressions have no problem") {
    for (const char* ok : {"* * * * *", "0 9 * * 1-5", "15,45 9-17/2 1,15 jan-jun MON-FRI",
                           "0 0 1 DEC sun", "@daily", " @hourly ", "0 0 * * 7", "5/10 * * * *"})
      CHECK_MESSAGE(cron::problem(ok).empty(), ok);
  }
}

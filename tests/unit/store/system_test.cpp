#include "store/system.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <ctime>
#include <string>

using hearth::store::sys::iso_ms;

TEST_SUITE("store") {

TEST_CASE("iso_ms writes UTC with milliseconds, as event timestamps and RunRecord times are") {
  CHECK(iso_ms(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso_ms(1795225620205LL) == "2026-11-21T01:47:00.205Z");
  CHECK(iso_ms(951782400007LL) == "2000-02-29T00:00:00.007Z");     // a leap day
  CHECK(iso_ms(253402300799999LL) == "9999-12-31T23:59:59.999Z"); // the last 4-digit year
  CHECK(iso_ms(-1) == "1969-12-31T23:59:59.999Z");                // before the epoch
}

TEST_CASE("iso_ms agrees with gmtime_r over a spread of instants") {
  // Every ~11.6 days for 200 years from 1900, at a changing time of day.
  for (long long ms = -2208988800000LL; ms < 4102444800000LL; ms += 1000003333LL) {
    const std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char expected[40];
    std::strftime(expected, sizeof expected, "%Y-%m-%dT%H:%M:%S", &tm);
    const long long millis = ((ms % 1000) + 1000) % 1000;
    char tail[8];
    std::snprintf(tail, sizeof tail, ".%03lldZ", millis);
    CAPTURE(ms);
    CHECK(iso_ms(ms) == std::string(expected) + tail);
  }
}

} // TEST_SUITE

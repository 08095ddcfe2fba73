// Cron expressions as schedules use them (seed 003, Eve "Schedules": standard 5-field cron,
// evaluated in UTC): parsing with Vixie cron's rules and a bounded next-fire search.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::cron {

/// A parsed expression: the allowed values of each field. Day-of-week 7 is folded onto 0 (Sunday).
struct Spec {
  std::bitset<60> minutes{};
  std::bitset<24> hours{};
  std::bitset<32> days{};   // day of month, 1..31 (bit 0 unused)
  std::bitset<13> months{}; // 1..12 (bit 0 unused)
  std::bitset<7> weekdays{}; // 0 = Sunday
  // Vixie cron: a day field starting with `*` is unrestricted. When both day fields are
  // restricted a day matches if EITHER matches; otherwise both must.
  bool days_star = false;
  bool weekdays_star = false;
};

/// Parses `expr`: 5 fields `minute hour day-of-month month day-of-week` separated by blanks, each
/// a comma list of `*`, `N`, `N-M`, with an optional `/STEP` (`*/15`, `1-30/2`, `5/10` = 5-max/10);
/// months JAN..DEC and days SUN..SAT by name (any case, also in ranges); day-of-week 0..7; or one
/// of @yearly @annually @monthly @weekly @daily @midnight @hourly. Returns nullopt and sets
/// `problem` (one sentence fragment, e.g. `minute "61" is outside 0-59`) when it cannot be used.
/// At most 256 bytes are accepted.
std::optional<Spec> parse(std::string_view expr, std::string* problem = nullptr);

/// Why `expr` is not a usable cron expression, or "" when it is.
std::string problem(std::string_view expr);

/// True when the minute starting at `epoch_s` (seconds since the Unix epoch, UTC; truncated to
/// the minute) is one of `spec`'s.
bool matches(const Spec& spec, std::int64_t epoch_s);

/// The first fire time strictly after `after_s` (seconds since the Unix epoch, UTC), in seconds
/// (a whole minute). Bounded: looks at most ~9 years ahead (enough for Feb 29 on any weekday
/// rule); nullopt when the expression never fires in that window (e.g. `0 0 31 2 *`).
std::optional<std::int64_t> next_after(const Spec& spec, std::int64_t after_s);

/// The latest fire time at or before `at_s`, no earlier than `not_before_s` (exclusive bound:
/// times <= not_before_s are not returned), scanning at most ~9 years; nullopt when none.
std::optional<std::int64_t> last_at_or_before(const Spec& spec, std::int64_t at_s,
                                              std::int64_t not_before_s);

/// `epoch_s` as ISO-8601 UTC with milliseconds (`2026-11-30T21:00:00.000Z`).
std::string iso(std::int64_t epoch_s);

} // namespace hearth::cron

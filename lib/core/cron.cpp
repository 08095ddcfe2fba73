// Cron parsing and next-fire search; see cron.hpp. Calendar arithmetic is Howard Hinnant's
// days_from_civil / civil_from_days (proleptic Gregorian, UTC), so no libc time zone is involved.
#include "core/cron.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <vector>

namespace hearth::cron {
namespace {

constexpr std::size_t k_max_expr_bytes = 256;
constexpr std::int64_t k_max_days = 366 * 9; // Feb 29 falling on a given weekday recurs < 9 years

struct Field {
  const char* name;
  int min;
  int max;
  const std::array<const char*, 13>* names; // index = value; nullptr entries unnamed
};

const std::array<const char*, 13> k_month_names = {nullptr, "jan", "feb", "mar", "apr", "may", "jun",
                                                   "jul",   "aug", "sep", "oct", "nov", "dec"};
const std::array<const char*, 13> k_day_names = {"sun", "mon", "tue", "wed", "thu", "fri", "sat",
                                                 nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};

const std::array<Field, 5> k_fields = {{{"minute", 0, 59, nullptr},
                                        {"hour", 0, 23, nullptr},
                                        {"day-of-month", 1, 31, nullptr},
                                        {"month", 1, 12, &k_month_names},
                                        {"day-of-week", 0, 7, &k_day_names}}};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

/// A number or a name of `field`; nullopt when it is neither.
std::optional<int> value_of(std::string_view text, const Field& field) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  bool digits = true;
  for (const char c : text) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) {
    int v = 0;
    for (const char c : text) v = v * 10 + (c - '0');
    return v;
  }
  if (!field.names) return std::nullopt;
  const auto name = lower(text);
  for (int i = 0; i < 13; ++i)
    if ((*field.names)[static_cast<std::size_t>(i)] && name == (*field.names)[static_cast<std::size_t>(i)])
      return i;
  return std::nullopt;
}

/// Parses one field into `bits` (indexed by value). Returns "" or the problem.
std::string parse_field(std::string_view text, const Field& field, std::vector<bool>& bits) {
  const auto quoted = [&](std::string_view part) {
    return std::string(field.name) + " \"" + std::string(part) + "\"";
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto part = text.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                         : comma - start);
    if (part.empty()) return std::string(field.name) + " has an empty list item";
    auto range = part;
    int step = 1;
    bool has_step = false;
    if (const auto slash = part.find('/'); slash != std::string_view::npos) {
      const auto step_text = part.substr(slash + 1);
      const auto s = value_of(step_text, Field{field.name, 0, 0, nullptr});
      if (!s || *s < 1 || *s > field.max)
        return quoted(part) + " has an invalid step (1-" + std::to_string(field.max) + ")";
      step = *s;
      has_step = true;
      range = part.substr(0, slash);
    }
    int lo = field.min, hi = field.max;
    if (range == "*") {
      if (field.max == 7) hi = 6; // `*` in day-of-week is 0-6 (7 would repeat Sunday)
    } else {
      const auto dash = range.find('-');
      const auto a = value_of(range.substr(0, dash), field);
      if (!a) return quoted(part) + " is not a number" + (field.names ? " or a name" : "");
      lo = *a;
      if (dash != std::string_view::npos) {
        const auto b = value_of(range.substr(dash + 1), field);
        if (!b) return quoted(part) + " is not a range";
        hi = *b;
      } else {
        hi = has_step ? field.max : lo; // `5/10`: from 5 to the maximum, every 10
      }
      if (lo < field.min || lo > field.max || hi < field.min || hi > field.max)
        return quoted(part) + " is outside " + std::to_string(field.min) + "-" +
               std::to_string(field.max);
      if (lo > hi) return quoted(part) + " is a range that runs backwards";
    }
    for (int v = lo; v <= hi; v += step) bits[static_cast<std::size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

std::string_view expand_macro(std::string_view expr) {
  if (expr == "@yearly" || expr == "@annually") return "0 0 1 1 *";
  if (expr == "@monthly") return "0 0 1 * *";
  if (expr == "@weekly") return "0 0 * * 0";
  if (expr == "@daily" || expr == "@midnight") return "0 0 * * *";
  if (expr == "@hourly") return "0 * * * *";
  return expr;
}

// --- calendar (Hinnant) ---

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {m <= 2 ? y + 1 : y, m, d};
}

bool day_matches(const Spec& spec, std::int64_t day) {
  const auto c = civil_from_days(day);
  if (!spec.months[c.month]) return false;
  const auto weekday = static_cast<std::size_t>(((day + 4) % 7 + 7) % 7); // 1970-01-01: Thursday
  const bool dom = spec.days[c.day];
  const bool dow = spec.weekdays[weekday];
  if (spec.days_star || spec.weekdays_star) return dom && dow;
  return dom || dow;
}

} // namespace

std::optional<Spec> parse(std::string_view expr, std::string* problem) {
  auto fail = [&](std::string why) -> std::optional<Spec> {
    if (problem) *problem = std::move(why);
    return std::nullopt;
  };
  if (expr.size() > k_max_expr_bytes) return fail("longer than 256 bytes");
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.front()))) expr.remove_prefix(1);
  while (!expr.empty() && std::isspace(static_cast<unsigned char>(expr.back()))) expr.remove_suffix(1);
  const std::string macro = lower(expr);
  if (!expr.empty() && expr.front() == '@') {
    const auto expanded = expand_macro(macro);
    if (expanded == macro)
      return fail("unknown macro \"" + std::string(expr) +
                  "\" (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
    expr = expanded;
  }
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while (i < expr.size()) {
    while (i < expr.size() && (expr[i] == ' ' || expr[i] == '\t')) ++i;
    const auto start = i;
    while (i < expr.size() && expr[i] != ' ' && expr[i] != '\t') ++i;
    if (i > start) fields.push_back(expr.substr(start, i - start));
  }
  if (fields.size() != 5)
    return fail("expected 5 fields (minute hour day-of-month month day-of-week), found " +
                std::to_string(fields.size()));
  Spec spec;
  for (std::size_t f = 0; f < 5; ++f) {
    std::vector<bool> bits(static_cast<std::size_t>(k_fields[f].max) + 1, false);
    if (auto why = parse_field(fields[f], k_fields[f], bits); !why.empty()) return fail(why);
    for (std::size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (f) {
      case 0: spec.minutes.set(v); break;
      case 1: spec.hours.set(v); break;
      case 2: spec.days.set(v); break;
      case 3: spec.months.set(v); break;
      default: spec.weekdays.set(v % 7); break;
      }
    }
  }
  spec.days_star = fields[2].front() == '*';
  spec.weekdays_star = fields[4].front() == '*';
  return spec;
}

std::string problem(std::string_view expr) {
  std::string why;
  return parse(expr, &why) ? std::string() : why;
}

bool matches(const Spec& spec, std::int64_t epoch_s) {
  const auto minute = floor_div(epoch_s, 60);
  const auto day = floor_div(minute, 1440);
  const auto of_day = minute - day * 1440;
  return day_matches(spec, day) && spec.hours[static_cast<std::size_t>(of_day / 60)] &&
         spec.minutes[static_cast<std::size_t>(of_day % 60)];
}

std::optional<std::int64_t> next_after(const Spec& spec, std::int64_t after_s) {
  const auto first = floor_div(after_s, 60) + 1; // minutes since the epoch
  const auto first_day = floor_div(first, 1440);
  for (std::int64_t day = first_day; day < first_day + k_max_days; ++day) {
    if (!day_matches(spec, day)) continue;
    const auto from = day == first_day ? first - day * 1440 : 0;
    for (auto m = from; m < 1440; ++m)
      if (spec.hours[static_cast<std::size_t>(m / 60)] && spec.minutes[static_cast<std::size_t>(m % 60)])
        return (day * 1440 + m) * 60;
  }
  return std::nullopt;
}

std::optional<std::int64_t> last_at_or_before(const Spec& spec, std::int64_t at_s,
                                              std::int64_t not_before_s) {
  const auto last = floor_div(at_s, 60);
  const auto floor_minute = floor_div(not_before_s, 60); // exclusive
  const auto last_day = floor_div(last, 1440);
  for (std::int64_t day = last_day; day > last_day - k_max_days; --day) {
    if (day * 1440 + 1439 <= floor_minute) return std::nullopt;
    if (!day_matches(spec, day)) continue;
    const auto to = day == last_day ? last - day * 1440 : 1439;
    for (auto m = to; m >= 0; --m) {
      if (day * 1440 + m <= floor_minute) return std::nullopt;
      if (spec.hours[static_cast<std::size_t>(m / 60)] && spec.minutes[static_cast<std::size_t>(m % 60)])
        return (day * 1440 + m) * 60;
    }
  }
  return std::nullopt;
}

std::string iso(std::int64_t epoch_s) {
  const auto day = floor_div(epoch_s, 86400);
  const auto secs = epoch_s - day * 86400;
  const auto c = civil_from_days(day);
  char buf[128];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.000Z",
                static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

} // namespace hearth::cron

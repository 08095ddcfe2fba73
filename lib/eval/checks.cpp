// Check evaluation over an Observation (checks.hpp). Inputs are bounded by discovery and by the
// runner; nothing here recurses over the depth of the JSON it compares.
#include "eval/checks.hpp"

#include "core/json.hpp"
#include "core/json_schema.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex.h>
#include <utility>

namespace hearth::eval {
using nlohmann::json;

json Observation::to_json() const {
  json calls = json::array();
  for (const auto& c : tool_calls) calls.push_back({{"name", c.name}, {"input", c.input}});
  json out = {{"text", text},
              {"toolCalls", calls},
              {"steps", steps},
              {"tokens", {{"input", input_tokens}, {"output", output_tokens}}},
              {"latencyMs", std::llround(latency_ms)}};
  if (!data.is_null()) out["data"] = data;
  return out;
}

json CheckResult::to_json() const {
  return {{"name", name},   {"kind", kind},           {"passed", passed}, {"score", score},
          {"soft", soft},   {"threshold", threshold}, {"message", message}};
}

bool json_contains(const json& actual, const json& expected) {
  std::vector<std::pair<const json*, const json*>> todo = {{&actual, &expected}};
  while (!todo.empty()) {
    const auto [a, e] = todo.back();
    todo.pop_back();
    if (e->is_object()) {
      if (!a->is_object()) return false;
      for (const auto& [key, value] : e->items()) {
        const auto it = a->find(key);
        if (it == a->end()) return false;
        todo.emplace_back(&*it, &value);
      }
    } else if (e->is_array()) {
      if (!a->is_array() || a->size() != e->size()) return false;
      for (std::size_t i = 0; i < e->size(); ++i) todo.emplace_back(&(*a)[i], &(*e)[i]);
    } else if (e->is_number() && a->is_number()) {
      if (e->get<double>() != a->get<double>()) return false;
    } else if (*a != *e) {
      return false;
    }
  }
  return true;
}

namespace {

/// A compiled POSIX regex, freed on scope exit.
class Regex {
public:
  Regex(const std::string& pattern, bool icase) {
    m_rc = ::regcomp(&m_re, pattern.c_str(), REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
  }
  ~Regex() {
    if (m_rc == 0) ::regfree(&m_re);
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  std::string problem() const {
    if (m_rc == 0) return "";
    char buf[256];
    ::regerror(m_rc, &m_re, buf, sizeof buf);
    return buf;
  }
  bool search(const std::string& text) const {
    return m_rc == 0 && ::regexec(&m_re, text.c_str(), 0, nullptr, 0) == 0;
  }

private:
  regex_t m_re{};
  int m_rc = -1;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string clip(const std::string& s, std::size_t n = 120) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

/// The structured output a JSON check looks at: the structured result, else the text parsed as
/// JSON; then `pointer` into it. nullopt when there is none.
std::optional<json> structured(const Observation& seen, const std::string& pointer) {
  json doc = seen.data;
  if (doc.is_null()) {
    doc = parse_json_or_discarded(seen.text);
    if (doc.is_discarded()) return std::nullopt;
  }
  if (pointer.empty()) return doc;
  try {
    const json::json_pointer p(pointer);
    if (!doc.contains(p)) return std::nullopt;
    return doc.at(p);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::string> strings_of(const json& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  else
    for (const auto& s : v)
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

double number(const json& v) { return v.is_number() ? v.get<double>() : 0; }

/// Sets passed/score for a pass-or-fail outcome.
void boolean(CheckResult& r, bool ok, std::string message) {
  r.score = ok ? 1 : 0;
  r.passed = ok;
  r.message = std::move(message);
}

} // namespace

std::string regex_problem(const std::string& pattern, bool icase) {
  return Regex(pattern, icase).problem();
}

bool regex_search(const std::string& pattern, bool icase, const std::string& text) {
  return Regex(pattern, icase).search(text);
}

CheckResult evaluate(const Check& check, const Observation& seen, const Judge& judge) {
  CheckResult r{.name = check.name, .kind = check.kind, .soft = check.soft,
                .threshold = check.threshold};
  const auto& v = check.value;
  // Text checks read the output text, or with `path` the value at that pointer of the structured
  // output (strings as they are, other values as JSON).
  std::string subject = seen.text;
  if (!check.path.empty() && (check.kind == "contains" || check.kind == "notContains" ||
                              check.kind == "matches")) {
    const auto at = structured(seen, check.path);
    subject = !at ? std::string() : at->is_string() ? at->get<std::string>() : dump_json(*at);
  }
  if (check.kind == "contains" || check.kind == "notContains") {
    const bool negate = check.kind == "notContains";
    const auto haystack = check.ignore_case ? lower(subject) : subject;
    const auto needles = strings_of(v);
    std::size_t good = 0;
    std::string first_bad;
    for (const auto& n : needles) {
      const bool found = haystack.find(check.ignore_case ? lower(n) : n) != std::string::npos;
      if (found != negate) ++good;
      else if (first_bad.empty()) first_bad = n;
    }
    r.score = needles.empty() ? 1 : static_cast<double>(good) / static_cast<double>(needles.size());
    r.passed = good == needles.size();
    r.message = r.passed ? std::to_string(good) + "/" + std::to_string(needles.size()) + " found"
                         : "\"" + clip(first_bad) + "\" " + (negate ? "was found" : "not found") +
                               " in the output (" + std::to_string(good) + "/" +
                               std::to_string(needles.size()) + " ok; output: \"" +
                               clip(subject) + "\")";
  } else if (check.kind == "matches") {
    const bool ok = regex_search(v.get<std::string>(), check.ignore_case, subject);
    boolean(r, ok, ok ? "matched" : "no match in the output (\"" + clip(subject) + "\")");
  } else if (check.kind == "equals") {
    const auto got = structured(seen, check.path);
    const bool ok = got && *got == v; // nlohmann compares 1 and 1.0 as numbers
    boolean(r, ok, ok ? "equal"
                      : got ? "got " + clip(dump_json(*got)) + ", expected " + clip(dump_json(v))
                            : "no structured output" + (check.path.empty() ? std::string() : " at " + check.path));
  } else if (check.kind == "schema") {
    const auto got = structured(seen, check.path);
    if (!got) {
      boolean(r, false, "no structured output (the output is not JSON)");
    } else {
      const auto violations = json_schema::Validator(v).validate(*got);
      boolean(r, violations.empty(),
              violations.empty() ? "valid" : clip(json_schema::describe(violations), 300));
    }
  } else if (check.kind == "toolCalled" || check.kind == "toolNotCalled") {
    const auto tool = v.get<std::string>();
    std::size_t named = 0;
    bool matched = false;
    for (const auto& call : seen.tool_calls) {
      if (call.name != tool) continue;
      ++named;
      bool ok = check.args.is_null() || json_contains(call.input, check.args);
      if (ok && !check.args_match.empty())
        ok = regex_search(check.args_match, check.ignore_case, dump_json(call.input));
      matched = matched || ok;
    }
    if (check.kind == "toolNotCalled") {
      boolean(r, !matched, matched ? "\"" + tool + "\" was called" : "not called");
    } else {
      std::string why = named == 0 ? "\"" + tool + "\" was not called"
                                   : "\"" + tool + "\" was called " + std::to_string(named) +
                                         " time(s), never with matching arguments";
      if (named == 0 && !seen.tool_calls.empty()) {
        why += " (called:";
        for (std::size_t i = 0; i < seen.tool_calls.size() && i < 10; ++i)
          why += " " + seen.tool_calls[i].name;
        why += ")";
      }
      boolean(r, matched, matched ? "called" : why);
    }
  } else if (check.kind == "maxSteps" || check.kind == "maxTokens" || check.kind == "maxLatencyMs") {
    const double limit = number(v);
    const double got = check.kind == "maxSteps"    ? static_cast<double>(seen.steps)
                       : check.kind == "maxTokens" ? static_cast<double>(seen.input_tokens + seen.output_tokens)
                                                   : seen.latency_ms;
    const auto unit = check.kind == "maxSteps" ? " steps" : check.kind == "maxTokens" ? " tokens" : " ms";
    boolean(r, got <= limit,
            std::to_string(std::llround(got)) + unit + (got <= limit ? " <= " : " > ") +
                std::to_string(std::llround(limit)));
  } else if (check.kind == "judge") {
    if (!judge) {
      boolean(r, false, "no judge is available");
    } else {
      const auto verdict = judge({.criteria = v.get<std::string>(), .input = seen.last_input,
                                  .output = seen.data.is_null() ? seen.text : dump_json(seen.data),
                                  .model = check.model});
      r.score = std::clamp(verdict.score, 0.0, 1.0);
      r.passed = r.score >= check.threshold;
      r.message = "score " + std::to_string(r.score).substr(0, 4) + " by " + verdict.model + ": " +
                  clip(verdict.reason, 300);
    }
    return r;
  } else {
    boolean(r, false, "unknown check");
  }
  if (check.soft) r.passed = r.score >= check.threshold;
  return r;
}

} // namespace hearth::eval

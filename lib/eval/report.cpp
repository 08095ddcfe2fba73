// Eval reports (report.hpp).
#include "eval/report.hpp"

#include "core/text.hpp"

#include <cmath>
#include <cstdio>

namespace hearth::eval {
using nlohmann::json;

namespace {

std::string seconds(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms / 1000.0);
  return buf;
}

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

/// The first reason an eval did not pass (or the first soft miss), for the table and JUnit.
std::string first_problem(const EvalResult& r) {
  if (r.error) return r.error->type + ": " + r.error->message;
  for (const auto& c : r.checks)
    if (!c.passed && !c.soft) return c.name + ": " + c.message;
  for (const auto& c : r.checks)
    if (!c.passed) return c.name + " (soft, " + fixed2(c.score) + " < " + fixed2(c.threshold) + "): " + c.message;
  return "";
}

std::string one_line(std::string s, std::size_t n) {
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

} // namespace

Summary summarize(const std::vector<EvalResult>& results, double duration_ms) {
  Summary s;
  s.total = results.size();
  s.duration_ms = duration_ms;
  for (const auto& r : results) {
    if (r.status == Status::passed) ++s.passed;
    else if (r.status == Status::failed) ++s.failed;
    else ++s.errored;
    if (r.below_threshold) ++s.below_threshold;
  }
  return s;
}

int exit_code_for(const std::vector<EvalResult>& results) {
  for (const auto& r : results)
    if (r.status != Status::passed) return 1;
  return 0;
}

std::string render_table(const std::vector<EvalResult>& results, const Summary& summary, bool strict,
                         bool color) {
  std::size_t width = 4;
  for (const auto& r : results) width = std::max(width, std::min<std::size_t>(r.id.size(), 48));
  const auto paint = [color](const char* code, const std::string& s) {
    return color ? "\x1b[" + std::string(code) + "m" + s + "\x1b[0m" : s;
  };
  std::string out;
  for (const auto& r : results) {
    std::string status = r.status == Status::passed  ? paint("32", "PASS ")
                         : r.status == Status::failed ? paint("31", "FAIL ")
                                                      : paint("35", "ERROR");
    auto id = r.id.size() > 48 ? r.id.substr(0, 45) + "..." : r.id;
    id.resize(width, ' ');
    std::string line = "  " + status + "  " + id + "  " + fixed2(r.score) + "  " +
                       seconds(r.duration_ms) + " s";
    const auto problem = first_problem(r);
    if (!problem.empty()) line += "  " + paint("2", one_line(text::to_utf8(problem), 160));
    out += line + "\n";
  }
  out += "\n" + std::to_string(summary.total) + " eval" + (summary.total == 1 ? "" : "s") + ": " +
         std::to_string(summary.passed) + " passed, " + std::to_string(summary.failed) +
         " failed, " + std::to_string(summary.errored) + " errored";
  if (summary.below_threshold > 0)
    out += ", " + std::to_string(summary.below_threshold) + " below threshold" +
           (strict ? "" : " (not failing without --strict)");
  out += " in " + seconds(summary.duration_ms) + " s\n";
  return out;
}

json render_json(const std::vector<EvalResult>& results, const Summary& summary, bool strict,
                 const std::string& target) {
  json evals = json::array();
  for (const auto& r : results) evals.push_back(r.to_json());
  return {{"ok", summary.failed == 0 && summary.errored == 0},
          {"strict", strict},
          {"target", target},
          {"summary",
           {{"total", summary.total},
            {"passed", summary.passed},
            {"failed", summary.failed},
            {"errored", summary.errored},
            {"belowThreshold", summary.below_threshold},
            {"durationMs", std::llround(summary.duration_ms)}}},
          {"evals", evals}};
}

std::string xml_escape(std::string_view raw) {
  const auto text = text::to_utf8(raw);
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&apos;"; break;
    default:
      if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') out += "\xEF\xBF\xBD"; // U+FFFD
      else out += ch;
    }
  }
  // U+FFFE and U+FFFF are not XML characters either (EF BF BE, EF BF BF).
  for (auto at = out.find("\xEF\xBF"); at != std::string::npos; at = out.find("\xEF\xBF", at + 3))
    if (at + 2 < out.size() && (out[at + 2] == '\xBE' || out[at + 2] == '\xBF')) out[at + 2] = '\xBD';
  return out;
}

std::string render_junit(const std::vector<EvalResult>& results, const Summary& summary,
                         const std::string& timestamp) {
  const auto counts = "tests=\"" + std::to_string(summary.total) + "\" failures=\"" +
                      std::to_string(summary.failed) + "\" errors=\"" +
                      std::to_string(summary.errored) + "\" skipped=\"0\" time=\"" +
                      seconds(summary.duration_ms) + "\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"hearth eval\" " + counts + ">\n";
  out += "  <testsuite name=\"hearth eval\" " + counts + " timestamp=\"" + xml_escape(timestamp) +
         "\">\n";
  for (const auto& r : results) {
    const auto slash = r.id.rfind('/');
    std::string classname = "evals";
    if (slash != std::string::npos) {
      auto dir = r.id.substr(0, slash);
      for (auto& c : dir)
        if (c == '/') c = '.';
      classname += "." + dir;
    }
    out += "    <testcase name=\"" + xml_escape(r.id) + "\" classname=\"" + xml_escape(classname) +
           "\" file=\"" + xml_escape(r.relative) + "\" time=\"" + seconds(r.duration_ms) + "\"";
    std::string body;
    if (r.status == Status::errored && r.error) {
      body += "      <error message=\"" + xml_escape(one_line(r.error->message, 1000)) +
              "\" type=\"" + xml_escape(r.error->type) + "\">" +
              xml_escape(r.error->message + (r.error->details.empty() ? "" : "\n" + r.error->details)) +
              "</error>\n";
    } else if (r.status == Status::failed) {
      std::string details;
      for (const auto& c : r.checks)
        if (!c.passed)
          details += c.name + (c.soft ? " (soft, score " + fixed2(c.score) + " < " + fixed2(c.threshold) + ")" : "") +
                     ": " + c.message + "\n";
      body += "      <failure message=\"" + xml_escape(one_line(first_problem(r), 1000)) +
              "\" type=\"check\">" + xml_escape(details) + "</failure>\n";
    }
    if (!r.logs.empty()) {
      std::string logs;
      for (const auto& l : r.logs) logs += l + "\n";
      body += "      <system-out>" + xml_escape(logs) + "</system-out>\n";
    }
    out += body.empty() ? "/>\n" : ">\n" + body + "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

} // namespace hearth::eval

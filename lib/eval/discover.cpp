// Discovery of evals under evals/ and parsing of declarative eval files (eval.hpp). Every bound
// of Limits is checked before the content is used; a bad file becomes an invalid eval.
#include "eval/checks.hpp"
#include "eval/eval.hpp"

#include "core/errors.hpp"
#include "core/errors_eval.hpp"
#include "core/json.hpp"
#include "core/json_schema.hpp"
#include "core/text.hpp"
#include "discovery/parse.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sys/stat.h>

namespace hearth::eval {
namespace stdfs = std::filesystem;
using nlohmann::json;

namespace {

/// The eval's kind and id suffix for a file name, or nullopt when it is no eval.
struct Match {
  std::size_t suffix = 0; // bytes of ".eval.<ext>" (or ".eval")
  bool json = false;
  bool markdown = false;
  std::vector<std::string> interpreter{};
};

std::optional<Match> classify(const stdfs::path& path, bool executable) {
  const auto name = path.filename().string();
  const auto at = name.rfind(".eval");
  if (at == std::string::npos || at == 0) return std::nullopt;
  const auto rest = name.substr(at + 5); // "" or ".<ext>"
  Match m;
  m.suffix = name.size() - at;
  if (rest == ".json") m.json = true;
  else if (rest == ".md") m.markdown = true;
  else if (rest == ".py") m.interpreter = {"python3"};
  else if (rest == ".sh") m.interpreter = {"bash"};
  else if (rest == ".js" || rest == ".mjs") m.interpreter = {"node"};
  else if (rest.empty() && executable) {
  } else return std::nullopt;
  return m;
}

/// Reads at most `limit` bytes; throws eval_invalid when the file is larger or unreadable.
std::string read_bounded(const stdfs::path& file, const std::string& relative, std::size_t limit) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw errors::eval_invalid(relative, "cannot be read");
  std::string text(limit + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > limit)
    throw errors::eval_invalid(relative, "is larger than " + std::to_string(limit) + " bytes");
  return text;
}

[[noreturn]] void bad(const std::string& relative, const std::string& problem) {
  throw errors::eval_invalid(relative, problem);
}

std::string short_json(const json& value) {
  auto text = dump_json(value);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::vector<std::string> parse_tags(const json& tags, const std::string& relative,
                                    const Limits& limits) {
  std::vector<std::string> out;
  if (tags.is_null()) return out;
  const json list = tags.is_string() ? json::array({tags}) : tags;
  if (!list.is_array()) bad(relative, "\"tags\" must be a string or a list of strings");
  if (list.size() > limits.max_tags)
    bad(relative, "has more than " + std::to_string(limits.max_tags) + " tags");
  for (const auto& t : list) {
    if (!t.is_string() || t.get<std::string>().empty() ||
        t.get<std::string>().size() > limits.max_tag_bytes)
      bad(relative, "each tag must be a non-empty string of at most " +
                        std::to_string(limits.max_tag_bytes) + " bytes");
    out.push_back(t.get<std::string>());
  }
  return out;
}

/// `input` / `messages`: a string, or a list of strings or {role: "user", content: string}.
std::vector<std::string> parse_messages(const json& input, const std::string& relative,
                                        const Limits& limits) {
  const json list = input.is_string() ? json::array({input}) : input;
  if (!list.is_array() || list.empty())
    bad(relative, "\"input\" must be a message or a non-empty list of messages");
  if (list.size() > limits.max_messages)
    bad(relative, "has more than " + std::to_string(limits.max_messages) + " input messages");
  std::vector<std::string> out;
  for (const auto& m : list) {
    std::string text;
    if (m.is_string()) text = m.get<std::string>();
    else if (m.is_object() && m.value("role", "user") == "user" && m.contains("content") &&
             m["content"].is_string())
      text = m["content"].get<std::string>();
    else bad(relative, "each input message must be a string or {\"role\": \"user\", \"content\": string}");
    if (text.size() > limits.max_message_bytes)
      bad(relative, "an input message is larger than " + std::to_string(limits.max_message_bytes) +
                        " bytes");
    out.push_back(std::move(text));
  }
  return out;
}

const std::vector<std::string>& check_kinds() {
  static const std::vector<std::string> kinds = {
      "contains", "notContains", "matches", "equals",       "schema", "toolCalled",
      "toolNotCalled", "maxSteps", "maxTokens", "maxLatencyMs", "judge"};
  return kinds;
}

Check parse_check(const json& c, const std::string& relative, const Limits& limits) {
  if (!c.is_object()) bad(relative, "each check must be an object, e.g. {\"contains\": \"Paris\"}");
  Check check;
  for (const auto& kind : check_kinds())
    if (c.contains(kind)) {
      if (!check.kind.empty())
        bad(relative, "a check has both \"" + check.kind + "\" and \"" + kind + "\"; use two checks");
      check.kind = kind;
    }
  if (check.kind.empty()) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : c.items()) keys.push_back(k);
    bad(relative, "a check has none of " + text::quote_list(check_kinds()) + " (keys: " +
                      text::quote_list(keys) + ")");
  }
  check.value = c[check.kind];
  const auto& v = check.value;
  const std::string where = "check \"" + check.kind + "\"";
  if (c.contains("soft") && !c["soft"].is_boolean()) bad(relative, where + ": \"soft\" must be true or false");
  check.soft = c.value("soft", check.kind == "judge");
  if (c.contains("threshold")) {
    if (!c["threshold"].is_number() || c["threshold"].get<double>() < 0 || c["threshold"].get<double>() > 1)
      bad(relative, where + ": \"threshold\" must be a number from 0 to 1");
    check.threshold = c["threshold"].get<double>();
  } else if (check.kind == "judge") {
    check.threshold = 0.5;
  }
  if (c.contains("ignoreCase")) {
    if (!c["ignoreCase"].is_boolean()) bad(relative, where + ": \"ignoreCase\" must be true or false");
    check.ignore_case = c["ignoreCase"].get<bool>();
  }
  if (c.contains("flags")) {
    if (!c["flags"].is_string() || (c["flags"] != "" && c["flags"] != "i"))
      bad(relative, where + ": \"flags\" may only be \"i\"");
    check.ignore_case = check.ignore_case || c["flags"] == "i";
  }
  if (c.contains("name")) {
    if (!c["name"].is_string() || c["name"].get<std::string>().size() > 200)
      bad(relative, where + ": \"name\" must be a string of at most 200 bytes");
    check.name = c["name"].get<std::string>();
  }
  if (c.contains("path")) {
    if (!c["path"].is_string()) bad(relative, where + ": \"path\" must be a JSON pointer string");
    check.path = c["path"].get<std::string>();
    try {
      (void)json::json_pointer(check.path);
    } catch (const std::exception&) {
      bad(relative, where + ": \"path\" is not a JSON pointer (e.g. \"/greeting\")");
    }
  }
  const auto regex_ok = [&](const std::string& pattern, const std::string& field) {
    if (pattern.size() > limits.max_regex_bytes)
      bad(relative, where + ": " + field + " is longer than " +
                        std::to_string(limits.max_regex_bytes) + " bytes");
    if (const auto problem = regex_problem(pattern, check.ignore_case); !problem.empty())
      bad(relative, where + ": " + field + " is not a POSIX extended regular expression: " + problem);
  };
  if (check.kind == "contains" || check.kind == "notContains") {
    bool ok = v.is_string() || (v.is_array() && !v.empty());
    if (v.is_array())
      for (const auto& s : v) ok = ok && s.is_string();
    if (!ok) bad(relative, where + " takes a string or a non-empty list of strings");
    if (v.is_array() && v.size() > 1000) bad(relative, where + " lists more than 1000 strings");
  } else if (check.kind == "matches") {
    if (!v.is_string()) bad(relative, where + " takes a regular expression string");
    regex_ok(v.get<std::string>(), "the pattern");
  } else if (check.kind == "schema") {
    if (!v.is_object() && !v.is_boolean()) bad(relative, where + " takes a JSON Schema object");
    if (const auto problem = json_schema::schema_problem(v); !problem.empty())
      bad(relative, where + ": the schema is invalid: " + problem);
  } else if (check.kind == "toolCalled" || check.kind == "toolNotCalled") {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 200)
      bad(relative, where + " takes a tool name");
    if (c.contains("args")) check.args = c["args"];
    if (c.contains("argsMatch")) {
      if (!c["argsMatch"].is_string()) bad(relative, where + ": \"argsMatch\" must be a string");
      check.args_match = c["argsMatch"].get<std::string>();
      regex_ok(check.args_match, "\"argsMatch\"");
    }
  } else if (check.kind == "maxSteps" || check.kind == "maxTokens" || check.kind == "maxLatencyMs") {
    if (!v.is_number() || v.get<double>() < 0) bad(relative, where + " takes a non-negative number");
  } else if (check.kind == "judge") {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 16384)
      bad(relative, where + " takes the criteria as a string of at most 16384 bytes");
    if (c.contains("model")) {
      if (!c["model"].is_string() || c["model"].get<std::string>().find('/') == std::string::npos)
        bad(relative, where + ": \"model\" must be a provider/model string");
      check.model = c["model"].get<std::string>();
    }
  }
  if (check.name.empty())
    check.name = check.kind + " " + short_json(v);
  return check;
}

const std::vector<std::string>& known_fields() {
  static const std::vector<std::string> fields = {"$schema", "description", "tags", "input",
                                                  "messages", "workflow", "payload", "checks",
                                                  "timeoutMs", "outputSchema"};
  return fields;
}

} // namespace

std::string to_string(Kind kind) {
  switch (kind) {
  case Kind::agent: return "agent";
  case Kind::workflow: return "workflow";
  case Kind::script: return "script";
  }
  return "agent";
}

stdfs::path evals_dir(const stdfs::path& project_root) { return project_root / "evals"; }

std::vector<Check> parse_checks(const json& list, const std::string& relative, const Limits& limits) {
  if (list.is_null()) return {};
  if (!list.is_array()) bad(relative, "\"checks\" must be a list");
  if (list.size() > limits.max_checks)
    bad(relative, "has more than " + std::to_string(limits.max_checks) + " checks");
  std::vector<Check> out;
  for (const auto& c : list) out.push_back(parse_check(c, relative, limits));
  return out;
}

Eval parse_declarative(std::string_view text, bool markdown, const std::string& relative,
                       const Limits& limits) {
  json doc;
  std::string body;
  if (markdown) {
    const auto fm = discovery::parse_frontmatter(text);
    if (fm.problem)
      bad(relative, (fm.problem->line ? "line " + std::to_string(fm.problem->line) + ": " : "") +
                        fm.problem->message);
    doc = fm.data;
    body = std::string(text::trim(fm.body));
    if (!body.empty()) {
      if (doc.contains("input") || doc.contains("messages"))
        bad(relative, "has both a body and \"input\"; the body is the input message");
      doc["input"] = body;
    }
  } else {
    const auto parsed = discovery::parse_json(text);
    if (!parsed.value)
      bad(relative, (parsed.problem.line ? "line " + std::to_string(parsed.problem.line) + ": " : "") +
                        parsed.problem.message);
    doc = *parsed.value;
    if (!doc.is_object()) bad(relative, "must be a JSON object");
  }
  for (const auto& [key, value] : doc.items())
    if (std::find(known_fields().begin(), known_fields().end(), key) == known_fields().end())
      bad(relative, "unknown field \"" + key + "\" (fields: " + text::quote_list(known_fields()) + ")");
  Eval e;
  if (doc.contains("description")) {
    if (!doc["description"].is_string()) bad(relative, "\"description\" must be a string");
    e.description = doc["description"].get<std::string>().substr(0, 1000);
  }
  e.tags = parse_tags(doc.value("tags", json()), relative, limits);
  const bool has_input = doc.contains("input") || doc.contains("messages");
  if (doc.contains("input") && doc.contains("messages"))
    bad(relative, "has both \"input\" and \"messages\"; use one");
  if (doc.contains("workflow")) {
    if (has_input) bad(relative, "has both \"workflow\" and an input message; an eval runs one or the other");
    if (!doc["workflow"].is_string() || doc["workflow"].get<std::string>().empty() ||
        doc["workflow"].get<std::string>().size() > 200)
      bad(relative, "\"workflow\" must be a workflow name");
    e.kind = Kind::workflow;
    e.workflow = doc["workflow"].get<std::string>();
    if (doc.contains("payload")) e.payload = doc["payload"];
    if (doc.contains("outputSchema")) bad(relative, "\"outputSchema\" is for agent evals; a workflow has its own result schema");
  } else {
    if (!has_input)
      bad(relative, markdown ? "has no input message (the body after the frontmatter)"
                             : "has neither \"input\" (messages to the agent) nor \"workflow\"");
    if (doc.contains("payload")) bad(relative, "\"payload\" needs \"workflow\"");
    e.kind = Kind::agent;
    e.messages = parse_messages(doc.contains("input") ? doc["input"] : doc["messages"], relative, limits);
    if (doc.contains("outputSchema")) {
      const auto& schema = doc["outputSchema"];
      if (!schema.is_object()) bad(relative, "\"outputSchema\" must be a JSON Schema object");
      if (const auto problem = json_schema::schema_problem(schema); !problem.empty())
        bad(relative, "\"outputSchema\" is invalid: " + problem);
      e.output_schema = schema;
    }
  }
  if (doc.contains("timeoutMs")) {
    const auto& t = doc["timeoutMs"];
    if (!t.is_number_integer() || t.get<long long>() < 0)
      bad(relative, "\"timeoutMs\" must be a non-negative integer");
    e.timeout_ms = t.get<long long>();
  }
  e.checks = parse_checks(doc.value("checks", json()), relative, limits);
  if (e.checks.empty()) bad(relative, "has no checks; add at least one (docs/evals.md \"Checks\")");
  return e;
}

namespace {

/// Tags of an executable eval: a line `hearth-eval-tags: a, b` in its first 4 KiB.
std::vector<std::string> script_tags(const stdfs::path& file, const Limits& limits) {
  std::ifstream in(file, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  const std::string marker = "hearth-eval-tags:";
  const auto at = head.find(marker);
  std::vector<std::string> tags;
  if (at == std::string::npos) return tags;
  auto end = head.find('\n', at);
  const auto line = head.substr(at + marker.size(), end == std::string::npos ? std::string::npos
                                                                             : end - at - marker.size());
  for (const auto& part : text::split(line, ',')) {
    const auto tag = std::string(text::trim(part));
    if (!tag.empty() && tag.size() <= limits.max_tag_bytes && tags.size() < limits.max_tags)
      tags.push_back(tag);
  }
  return tags;
}

} // namespace

std::vector<Eval> discover(const stdfs::path& dir, const stdfs::path& root, const Limits& limits) {
  std::vector<Eval> found;
  std::error_code ec;
  if (!stdfs::is_directory(dir, ec)) return found;
  // An explicit stack bounded by max_depth and max_entries: no recursion over the tree's depth.
  std::vector<std::pair<stdfs::path, std::size_t>> pending = {{dir, 0}};
  std::size_t entries = 0;
  while (!pending.empty() && found.size() < limits.max_evals) {
    auto [current, depth] = pending.back();
    pending.pop_back();
    stdfs::directory_iterator it(current, ec);
    if (ec) {
      if (current == dir) throw errors::io_error("read directory", dir.string(), ec.message());
      continue;
    }
    std::vector<stdfs::directory_entry> children;
    for (; it != stdfs::directory_iterator() && entries < limits.max_entries; it.increment(ec)) {
      if (ec) break;
      ++entries;
      children.push_back(*it);
    }
    for (const auto& entry : children) {
      const auto name = entry.path().filename().string();
      if (name.empty() || name[0] == '.' || name == "node_modules" || name == "__pycache__") continue;
      if (entry.is_symlink(ec)) continue;
      if (entry.is_directory(ec)) {
        if (depth + 1 < limits.max_depth) pending.emplace_back(entry.path(), depth + 1);
        continue;
      }
      if (!entry.is_regular_file(ec)) continue;
      struct stat st{};
      const bool executable = ::stat(entry.path().c_str(), &st) == 0 && (st.st_mode & S_IXUSR);
      const auto match = classify(entry.path(), executable);
      if (!match) continue;
      if (found.size() >= limits.max_evals) break;
      Eval e;
      e.file = entry.path();
      // Names are bytes: ids and paths that are not UTF-8 are repaired for reports (and such an
      // id makes the eval invalid below).
      e.relative = text::to_utf8(entry.path().lexically_relative(root).generic_string());
      const auto rel = entry.path().lexically_relative(dir).generic_string();
      const auto raw_id = rel.substr(0, rel.size() - match->suffix);
      e.id = text::to_utf8(raw_id);
      try {
        if (e.id.size() > limits.max_id_bytes || !text::is_utf8(raw_id))
          bad(e.relative, "its id is longer than " + std::to_string(limits.max_id_bytes) +
                              " bytes or not UTF-8");
        if (match->json || match->markdown) {
          const auto text = read_bounded(e.file, e.relative, limits.max_file_bytes);
          auto parsed = parse_declarative(text, match->markdown, e.relative, limits);
          parsed.id = e.id;
          parsed.file = e.file;
          parsed.relative = e.relative;
          e = std::move(parsed);
        } else {
          e.kind = Kind::script;
          e.command = match->interpreter;
          e.command.push_back(e.file.string());
          e.tags = script_tags(e.file, limits);
        }
      } catch (const Error& err) {
        e.invalid = err;
      }
      found.push_back(std::move(e));
    }
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const Eval& a, const Eval& b) { return a.id < b.id || (a.id == b.id && a.relative < b.relative); });
  for (std::size_t i = 1; i < found.size(); ++i)
    if (found[i].id == found[i - 1].id && !found[i].invalid)
      found[i].invalid = errors::eval_invalid(
          found[i].relative, "eval id \"" + found[i].id + "\" is also used by " + found[i - 1].relative);
  return found;
}

bool id_matches(std::string_view id, std::string_view filter) {
  while (!filter.empty() && filter.back() == '/') filter.remove_suffix(1);
  if (filter.empty()) return false;
  if (id == filter) return true;
  return id.size() > filter.size() && id.substr(0, filter.size()) == filter && id[filter.size()] == '/';
}

bool has_any_tag(const Eval& eval, const std::vector<std::string>& tags) {
  if (tags.empty()) return true;
  for (const auto& t : tags)
    if (std::find(eval.tags.begin(), eval.tags.end(), t) != eval.tags.end()) return true;
  return false;
}

} // namespace hearth::eval

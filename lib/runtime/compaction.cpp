// Conversation compaction; see compaction.hpp.
#include "runtime/compaction.hpp"

#include "core/json.hpp"
#include "core/text.hpp"
#include "runtime/events.hpp"

#include <algorithm>
#include <charconv>

namespace hearth::runtime {
namespace {
using nlohmann::json;

constexpr const char* k_summary_preamble =
    "Summary of the earlier conversation (compacted; the full history is kept in the session):\n\n";

constexpr const char* k_summary_system =
    "You compact the history of a conversation between a user and an AI agent. Write a concise "
    "summary that lets the agent continue the conversation without the original messages: the "
    "user's goals and requests, decisions made, facts and tool results that still matter, files "
    "touched, and what is still open. Plain text, no preamble.";

std::string text_of(const json& message) {
  std::string out;
  const auto it = message.find("content");
  if (it == message.end()) return out;
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) return out;
  for (const auto& part : *it)
    if (part.is_object() && part.contains("type") && part["type"] == "text") {
      const auto t = part.find("text");
      if (t != part.end() && t->is_string()) out += t->get_ref<const std::string&>();
    }
  return out;
}

std::string role_of(const json& message) {
  if (!message.is_object()) return {};
  const auto it = message.find("role");
  return it != message.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string cut(std::string text, std::size_t max) {
  if (text.size() <= max) return text;
  const auto dropped = text.size() - max;
  text.resize(max);
  text = text::to_utf8(text); // a cut inside a UTF-8 sequence is repaired
  return text + "\n…[" + std::to_string(dropped) + " characters cut]";
}

json user_text(const std::string& text) {
  return {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", text}}})}};
}

} // namespace

CompactionSettings compaction_settings(const json& authored) {
  CompactionSettings s;
  if (authored.is_boolean()) {
    s.enabled = authored.get<bool>();
    return s;
  }
  if (!authored.is_object()) return s;
  if (const auto it = authored.find("enabled"); it != authored.end() && it->is_boolean())
    s.enabled = it->get<bool>();
  if (const auto it = authored.find("thresholdPercent"); it != authored.end() && it->is_number())
    s.threshold_percent = std::clamp(it->get<double>(), 0.001, 1.0);
  if (const auto it = authored.find("contextWindowTokens");
      it != authored.end() && it->is_number_integer())
    s.context_window_tokens = std::clamp<std::int64_t>(it->get<std::int64_t>(), 0, 1'000'000'000);
  if (const auto it = authored.find("model"); it != authored.end() && it->is_string())
    s.model = it->get<std::string>();
  if (const auto it = authored.find("keepRecentTurns");
      it != authored.end() && it->is_number_integer())
    s.keep_recent_turns = static_cast<int>(std::clamp<std::int64_t>(it->get<std::int64_t>(), 0, 1000));
  if (const auto it = authored.find("pinFirstMessage"); it != authored.end() && it->is_boolean())
    s.pin_first_message = it->get<bool>();
  return s;
}

bool starts_turn(const json& message) {
  if (role_of(message) != "user") return false;
  const auto it = message.find("reminder");
  return it == message.end() || !it->is_boolean() || !it->get<bool>();
}

bool is_marker(const json& message) {
  const auto role = role_of(message);
  return role == k_compaction_role || role == k_cleared_role;
}

View view_at(const json& messages, std::size_t marker) {
  View v;
  v.tail_from = marker + 1;
  if (marker >= messages.size()) return v;
  const auto& entry = messages[marker];
  if (role_of(entry) != k_compaction_role) return v; // a clear: nothing before it is seen
  const auto n = messages.size();
  const auto first = entry.value("firstKept", json());
  if (first.is_number_unsigned() && first.get<std::size_t>() <= marker)
    v.tail_from = first.get<std::size_t>();
  for (const auto& p : entry.value("pinned", json::array()))
    if (p.is_number_unsigned() && p.get<std::size_t>() < v.tail_from && p.get<std::size_t>() < n &&
        v.pinned.size() < 64 && role_of(messages[p.get<std::size_t>()]) == "user") {
      v.pinned.push_back(p.get<std::size_t>());
      v.prefix.push_back(messages[p.get<std::size_t>()]);
    }
  const auto summary = entry.value("summary", json());
  v.summary = summary.is_string() ? summary.get<std::string>() : std::string();
  v.prefix.push_back(user_text(k_summary_preamble + v.summary));
  return v;
}

View view_of(const json& messages) {
  for (std::size_t i = messages.size(); i-- > 0;)
    if (is_marker(messages[i])) return view_at(messages, i);
  return {};
}

json model_view(const json& messages) {
  const auto v = view_of(messages);
  json out = v.prefix;
  for (std::size_t i = v.tail_from; i < messages.size(); ++i)
    if (!is_marker(messages[i])) out.push_back(messages[i]);
  return out;
}

std::size_t message_chars(const json& message) {
  if (!message.is_object()) return 0;
  std::size_t n = 0;
  const auto it = message.find("content");
  if (it == message.end()) return 0;
  if (it->is_string()) return it->get_ref<const std::string&>().size();
  if (!it->is_array()) return 0;
  for (const auto& part : *it) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string()) continue;
    const auto& type = part["type"].get_ref<const std::string&>();
    if (type == "text") {
      const auto t = part.find("text");
      if (t != part.end() && t->is_string()) n += t->get_ref<const std::string&>().size();
    } else if (type == "toolCall") {
      if (const auto name = part.find("name"); name != part.end() && name->is_string())
        n += name->get_ref<const std::string&>().size();
      if (const auto a = part.find("arguments"); a != part.end()) n += hearth::dump_json(*a).size();
    }
  }
  return n;
}

CompactionPlan plan_compaction(const json& messages, const CompactionSettings& settings,
                               bool in_turn) {
  CompactionPlan plan;
  const auto v = view_of(messages);
  const auto n = messages.size();
  std::vector<std::size_t> turn_starts;
  for (std::size_t i = v.tail_from; i < n; ++i)
    if (starts_turn(messages[i])) turn_starts.push_back(i);
  // The turn in progress (the newest user message on) is always kept: the model must see it.
  const auto keep = static_cast<std::size_t>(std::max(in_turn ? 1 : 0, settings.keep_recent_turns));
  if (turn_starts.empty() || turn_starts.size() < keep || (in_turn && turn_starts.size() == keep))
    return plan;
  plan.first_kept = keep == 0 ? n : turn_starts[turn_starts.size() - keep];
  plan.from = v.tail_from;
  if (plan.first_kept <= plan.from) return plan;
  plan.previous_summary = v.summary;
  plan.pinned = v.pinned;
  if (settings.pin_first_message) {
    // The conversation's first message is the first one after the newest clear: what came
    // before a `/clear` is never seen again, pinned or not.
    std::size_t start = 0;
    for (std::size_t i = plan.first_kept; i-- > 0;)
      if (role_of(messages[i]) == k_cleared_role) {
        start = i + 1;
        break;
      }
    for (std::size_t i = start; i < plan.first_kept; ++i)
      if (starts_turn(messages[i])) {
        if (std::find(plan.pinned.begin(), plan.pinned.end(), i) == plan.pinned.end())
          plan.pinned.push_back(i);
        break;
      }
  }
  for (std::size_t i = plan.from; i < plan.first_kept && plan.pinned.size() < 64; ++i) {
    if (role_of(messages[i]) != "user") continue; // a checkpoint's `pinned` is its list
    const auto it = messages[i].find("pinned");
    if (it != messages[i].end() && it->is_boolean() && it->get<bool>()) plan.pinned.push_back(i);
  }
  std::sort(plan.pinned.begin(), plan.pinned.end());
  plan.pinned.erase(std::unique(plan.pinned.begin(), plan.pinned.end()), plan.pinned.end());
  plan.worth_it = true;
  return plan;
}

providers::StepRequest summary_request(const json& messages, const CompactionPlan& plan,
                                       const std::string& model, std::size_t budget_chars) {
  const std::size_t budget = std::max<std::size_t>(1024, std::min(budget_chars, k_max_transcript_chars));
  // Newest first until the budget is used: what was said last matters most to what follows.
  std::vector<std::string> parts;
  std::size_t used = 0;
  const std::size_t end = std::min(plan.first_kept, messages.size());
  for (std::size_t i = end; i-- > plan.from && used < budget;) {
    const auto& m = messages[i];
    if (is_marker(m)) continue;
    std::string line = "[" + role_of(m);
    if (role_of(m) == "toolResult")
      if (const auto t = m.find("toolName"); t != m.end() && t->is_string())
        line += " " + t->get<std::string>();
    line += "] " + text_of(m);
    if (const auto it = m.find("content"); it != m.end() && it->is_array())
      for (const auto& part : *it)
        if (part.is_object() && part.contains("type") && part["type"] == "toolCall")
          line += "\n(called " + (part.contains("name") ? hearth::dump_json(part["name"]) : "") +
                  " " + cut(part.contains("arguments") ? hearth::dump_json(part["arguments"]) : "{}", 512) + ")";
    line = cut(std::move(line), k_max_transcript_message_chars);
    if (used + line.size() > budget) line = cut(std::move(line), budget - used);
    used += line.size();
    parts.push_back(std::move(line));
  }
  std::string transcript;
  if (!plan.previous_summary.empty())
    transcript = "Previous summary:\n" + cut(plan.previous_summary, k_max_summary_chars) + "\n\n";
  transcript += "Conversation:\n";
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) transcript += *it + "\n";
  providers::StepRequest request{.model = model, .system = k_summary_system};
  request.messages.push_back(providers::user_message(transcript));
  request.options = json::object();
  return request;
}

json checkpoint_entry(std::string summary, const CompactionPlan& plan, std::int64_t tokens_before,
                      std::size_t max_chars) {
  summary = cut(text::to_utf8(summary), std::max<std::size_t>(256, std::min(max_chars, k_max_summary_chars)));
  return {{"role", k_compaction_role}, {"summary", summary}, {"firstKept", plan.first_kept},
          {"pinned", plan.pinned}, {"tokensBefore", tokens_before}, {"timestamp", now_ms()}};
}

json cleared_entry() { return {{"role", k_cleared_role}, {"timestamp", now_ms()}}; }

namespace {
std::size_t chars_of(const providers::Message& m) {
  std::size_t n = m.text.size();
  for (const auto& c : m.tool_calls) n += c.name.size() + c.arguments.size();
  return n;
}

/// Cuts `m` (text, then each call's arguments) to about `max` characters, with markers. Arguments
/// over their share become a small JSON object naming the cut, so the request stays valid JSON.
void cut_message(providers::Message& m, std::size_t max) {
  if (chars_of(m) <= max) return;
  for (auto& c : m.tool_calls) {
    const std::size_t share = max / (m.tool_calls.size() + 1);
    if (c.arguments.size() > share && c.arguments.size() > 256) {
      const auto dropped = c.arguments.size();
      c.arguments = hearth::dump_json(json{
          {"_hearth_truncated",
           std::to_string(dropped) + " characters of arguments not sent to keep the request within "
           "the context window; the call ran with them and the full text is in the session history"}});
    }
  }
  std::size_t calls = 0;
  for (const auto& c : m.tool_calls) calls += c.name.size() + c.arguments.size();
  const std::size_t keep = max > calls ? std::max<std::size_t>(max - calls, 64) : 64;
  if (m.text.size() > keep) {
    const auto dropped = m.text.size() - keep;
    m.text.resize(keep);
    m.text = text::to_utf8(m.text) + "\n…[" + std::to_string(dropped) +
             " characters not sent to keep the request within the context window; the full "
             "text is in the session history]";
  }
}
} // namespace

BoundedRange bound_request(std::vector<providers::Message>& messages, std::size_t budget_chars,
                           std::size_t keep_first) {
  BoundedRange out;
  keep_first = std::min(keep_first, messages.size());
  // The prefix (pinned messages, the summary) is kept, within a quarter of the budget.
  std::size_t used = 0;
  if (keep_first > 0) {
    const std::size_t share = std::max<std::size_t>(budget_chars / 4 / keep_first, 256);
    for (std::size_t i = 0; i < keep_first; ++i) {
      cut_message(messages[i], share);
      used += chars_of(messages[i]);
    }
  }
  // Newest first: kept whole as far as they fit, the one that does not fit is cut, older ones
  // are dropped (the newest message, the turn's question or last result, is always sent).
  std::size_t first_kept = messages.size();
  for (std::size_t i = messages.size(); i-- > keep_first;) {
    const std::size_t left = budget_chars > used ? budget_chars - used : 0;
    const bool newest = i + 1 == messages.size();
    if (!newest && left < 512) break;
    cut_message(messages[i], std::max<std::size_t>(left, 256));
    used += chars_of(messages[i]);
    first_kept = i;
  }
  // A tool result whose call was dropped cannot be sent alone (providers answer 400): when the
  // cut lands inside a tool-result group, the assistant message owning it is kept too, its
  // arguments cut, with the group's older results cut to ~256 characters each (every call of
  // the message keeps its result). The kept range never starts with a tool result.
  if (first_kept < messages.size() && messages[first_kept].role == providers::Role::tool) {
    std::size_t owner = first_kept;
    while (owner > keep_first && messages[owner].role == providers::Role::tool) --owner;
    const bool owned = messages[owner].role == providers::Role::assistant &&
                       !messages[owner].tool_calls.empty();
    if (owned) {
      for (std::size_t i = owner + 1; i < first_kept; ++i) cut_message(messages[i], 256);
      cut_message(messages[owner], 256);
      first_kept = owner;
    } else { // no owner to keep (none, or only results left): the orphans go, the newest stays
      while (first_kept + 1 < messages.size() && messages[first_kept].role == providers::Role::tool)
        ++first_kept;
    }
  }
  if (first_kept > keep_first) {
    out.from = keep_first;
    out.count = first_kept - keep_first;
    messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(keep_first),
                   messages.begin() + static_cast<std::ptrdiff_t>(first_kept));
    if (out.count > 0) // say so, where the dropped messages were
      messages.insert(messages.begin() + static_cast<std::ptrdiff_t>(keep_first),
                      providers::user_message("[" + std::to_string(out.count) +
                                              " older messages not sent to keep the request within "
                                              "the context window; they are in the session history]"));
  }
  return out;
}

std::int64_t context_window(const providers::ModelRef& model, const providers::EnvLookup& env) {
  if (model.provider == "mock") {
    if (env)
      if (const auto v = env("HEARTH_MOCK_CONTEXT_WINDOW")) {
        std::int64_t n = 0;
        const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec == std::errc() && p == v->data() + v->size() && n >= 256 && n <= 1'000'000'000)
          return n;
      }
    return 128'000;
  }
  // The model's own name: the part after the last slash (gateway/openai/gpt-5 -> gpt-5).
  const auto slash = model.model.rfind('/');
  const std::string id = slash == std::string::npos ? model.model : model.model.substr(slash + 1);
  const auto starts = [&](std::string_view prefix) { return id.rfind(prefix, 0) == 0; };
  if (starts("claude")) return 200'000;
  if (starts("gpt-5")) return 400'000;
  if (starts("gpt-4.1")) return 1'047'576;
  if (starts("gpt-4o") || starts("gpt-4-turbo")) return 128'000;
  if (starts("gpt-3.5")) return 16'385;
  if (starts("o1") || starts("o3") || starts("o4")) return 200'000;
  if (starts("gemini")) return 1'048'576;
  return 128'000;
}

} // namespace hearth::runtime

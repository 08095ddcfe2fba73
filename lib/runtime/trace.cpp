// TraceEvent derivation and W3C trace context; see trace.hpp.
#include "runtime/trace.hpp"

#include "core/ids.hpp"
#include "runtime/events.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <ctime>
#include <random>
#include <set>

namespace hearth::runtime {
namespace {
using nlohmann::json;

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool all_zero(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; });
}

std::string random_hex(std::size_t bytes) {
  // Seeded by getrandom(2) once per thread (a warm connection's runs get a new worker thread).
  // 64 seed bits: these ids only need to be unlikely to collide, not to be unguessable, and a
  // std::seed_seq would cost a run more than all its ids together. No weaker seed stands in:
  // without getrandom the first id of the thread throws (fail closed).
  thread_local std::mt19937_64 engine{[] {
    std::uint64_t seed = 0;
    ids::random_bytes(&seed, sizeof seed);
    return std::mt19937_64(seed);
  }()};
  static constexpr char k_digits[] = "0123456789abcdef";
  for (;;) {
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
      const auto byte = static_cast<unsigned>(engine() & 0xffu);
      out += k_digits[byte >> 4];
      out += k_digits[byte & 0xfu];
    }
    if (!all_zero(out)) return out;
  }
}

std::string str(const json& data, const char* key) {
  const auto it = data.find(key);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// `value` under `key` when it is not empty (cut to 512 bytes).
void put_string(json& into, const char* key, const std::string& value) {
  if (!value.empty()) into[key] = value.size() > 512 ? value.substr(0, 512) : value;
}

/// `data[key]` when it is a short string; other values are left out of attributes.
void copy_string(json& into, const json& data, const char* key) {
  put_string(into, key, str(data, key));
}

/// An event's string fields: its own (`data`), else the envelope it is stored with. A field the
/// event sets itself wins, as in the stored body (dump_json_with).
struct Fields {
  const json& data;
  const std::vector<JsonMember>* envelope;

  std::string str(const char* key) const {
    if (const auto it = data.find(key); it != data.end())
      return it->is_string() ? it->get<std::string>() : std::string();
    if (envelope != nullptr)
      for (const auto& member : *envelope)
        if (member.key == key) {
          if (!member.raw) return member.value;
          const auto value = // our own text (JsonMember::raw): no depth limit of its own
              parse_json(member.value, std::numeric_limits<std::size_t>::max());
          return value.is_string() ? value.get<std::string>() : std::string();
        }
    return {};
  }
};

json error_attributes(const json& error) {
  json out = json::object();
  if (!error.is_object()) return out;
  copy_string(out, error, "type");
  copy_string(out, error, "message");
  return out;
}

} // namespace

std::optional<TraceContext> parse_traceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55.
  if (header.size() < 55) return std::nullopt;
  const auto version = header.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? header.size() != 55 : (header.size() > 55 && header[55] != '-'))
    return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  const auto trace_id = header.substr(3, 32), span_id = header.substr(36, 16),
             flags = header.substr(53, 2);
  if (!is_lower_hex(trace_id) || !is_lower_hex(span_id) || !is_lower_hex(flags))
    return std::nullopt;
  if (all_zero(trace_id) || all_zero(span_id)) return std::nullopt;
  const int flag_bits = std::stoi(std::string(flags), nullptr, 16);
  return TraceContext{.trace_id = std::string(trace_id), .span_id = std::string(span_id),
                      .sampled = (flag_bits & 1) != 0};
}

std::string format_traceparent(const TraceContext& context) {
  return "00-" + context.trace_id + "-" + context.span_id + (context.sampled ? "-01" : "-00");
}

std::string new_trace_id() { return random_hex(16); }
std::string new_span_id() { return random_hex(8); }

std::optional<long long> parse_iso_ms(std::string_view iso) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  const std::string text(iso.substr(0, 40));
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute,
                  &second, &consumed) != 6 ||
      consumed != 19)
    return std::nullopt;
  long long millis = 0;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    int digits = 0;
    for (++pos; pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; ++pos, ++digits)
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
    for (; digits < 3; ++digits) millis *= 10;
  }
  if (pos >= text.size() || text[pos] != 'Z') return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<long long>(::timegm(&tm)) * 1000 + millis;
}

// --- Tracer ----------------------------------------------------------------------------------

Tracer::Tracer(std::optional<TraceContext> parent)
    : m_trace_id(parent ? parent->trace_id : new_trace_id()),
      m_external_parent(parent ? parent->span_id : std::string()),
      m_sampled(parent ? parent->sampled : true) {}

json Tracer::make_event(const std::string& name, const std::string& type,
                        const std::string& span_id, const std::string& parent, json attributes,
                        long long at_ms) const {
  // Built member by member: an initializer list builds a [key, value] array per member first
  // (a TraceEvent per span start and end; issue 17 §3).
  json trace = json::object();
  trace["id"] = m_trace_id;
  trace["sampled"] = m_sampled;
  if (!parent.empty()) trace["parentId"] = parent;
  attributes["spanId"] = span_id;
  json event = json::object();
  event["name"] = name;
  event["type"] = type;
  event["timestamp"] = iso_from_ms(at_ms);
  event["trace"] = std::move(trace);
  event["attributes"] = std::move(attributes);
  return event;
}

std::string Tracer::open(std::vector<json>& out, const std::string& key, const std::string& name,
                         const std::string& type, const std::string& parent, json attributes,
                         long long at_ms) {
  std::string parent_id = parent;
  if (parent_id.empty()) {
    if (m_open.empty() && !m_root.empty()) { // the previous trace ended: this starts another
      m_trace_id = new_trace_id();
      m_external_parent.clear();
      m_points.clear();
    }
    if (m_open.empty()) m_root.clear();
    parent_id = m_root.empty() ? m_external_parent : m_root;
  }
  if (const auto old = m_keys.find(key); old != m_keys.end()) // a key reused while open
    close_span(out, old->second, false, json::object(), at_ms);
  Span span{.id = new_span_id(), .parent = parent_id, .name = name, .type = type, .key = key,
            .start_ms = at_ms, .attributes = std::move(attributes)};
  if (m_root.empty()) m_root = span.id;
  json start = span.attributes;
  start["phase"] = "start";
  out.push_back(make_event(name, type, span.id, span.parent, std::move(start), at_ms));
  m_keys[key] = span.id;
  const auto id = span.id;
  m_open.emplace(id, std::move(span));
  return id;
}

void Tracer::close_span(std::vector<json>& out, const std::string& span_id, bool is_error,
                        const json& extra, long long at_ms) {
  // Children first, so every end follows the ends below it. Depth is the nesting of our own spans
  // (run > operation > turn > step > tool > subagent task > ...), never input depth.
  for (bool again = true; again;) {
    again = false;
    for (const auto& [id, span] : m_open)
      if (span.parent == span_id) {
        const auto child = id;
        close_span(out, child, is_error, json::object(), at_ms);
        again = true;
        break;
      }
  }
  const auto it = m_open.find(span_id);
  if (it == m_open.end()) return;
  Span span = std::move(it->second);
  m_open.erase(it);
  if (const auto k = m_keys.find(span.key); k != m_keys.end() && k->second == span.id)
    m_keys.erase(k);
  for (auto t = m_tool_calls.begin(); t != m_tool_calls.end();)
    t = t->second == span.id ? m_tool_calls.erase(t) : std::next(t);
  json attributes = std::move(span.attributes); // the span is closed: its start needs none
  for (const auto& [k, v] : extra.items()) attributes[k] = v;
  attributes["phase"] = "end";
  attributes["durationMs"] = std::max(0LL, at_ms - span.start_ms);
  attributes["status"] = is_error ? "error" : "ok";
  out.push_back(make_event(span.name, span.type, span.id, span.parent, std::move(attributes), at_ms));
}

void Tracer::close(std::vector<json>& out, const std::string& key, bool is_error, const json& extra,
                   long long at_ms) {
  const auto it = m_keys.find(key);
  if (it == m_keys.end()) return;
  const auto id = it->second;
  close_span(out, id, is_error, extra, at_ms);
}

void Tracer::point(std::vector<json>& out, const std::string& name, const std::string& type,
                   const std::string& parent, json attributes, long long at_ms,
                   const std::string& registry_key) {
  if (m_open.empty() && !m_root.empty() && parent.empty()) { // after the trace ended
    m_trace_id = new_trace_id();
    m_external_parent.clear();
    m_root.clear();
  }
  const auto id = new_span_id();
  attributes["phase"] = "event";
  out.push_back(make_event(name, type, id, parent.empty() ? m_root : parent, std::move(attributes),
                           at_ms));
  if (!registry_key.empty() && m_points.size() < 10'000) m_points[registry_key] = id;
}

std::string Tracer::parent_of(std::initializer_list<std::string> keys) const {
  for (const auto& key : keys) {
    if (const auto it = m_keys.find(key); it != m_keys.end()) return it->second;
    if (const auto it = m_points.find(key); it != m_points.end()) return it->second;
  }
  return m_open.count(m_root) ? m_root : std::string();
}

std::vector<json> Tracer::observe(const std::string& type, const json& d,
                                  const std::vector<JsonMember>* envelope) {
  // Most events (deltas, messages, requests, usage, logs) open or close nothing: they cost one
  // lookup here, not the keys below (issue 17 §3). Every type the branches below handle is
  // listed here: one missing here derives no TraceEvents.
  static const std::set<std::string, std::less<>> k_traced = {
      "run_start", "run_resume", "operation_start", "operation", "agent_start", "agent_end",
      "turn_start", "turn", "tool_start", "tool_call", "task_start", "task", "policy_decision",
      "approval_request", "approval_decision", "error"};
  std::vector<json> out;
  if (!k_traced.count(type)) return out;
  const long long at = now_ms();
  const Fields f{d, envelope};
  const auto op = "op:" + f.str("operationId");
  const auto step = "step:" + f.str("turnId");
  const auto call_id = f.str("toolCallId");
  const bool is_error = d.value("isError", false);
  const auto agent_key = [&f] {
    return "agent:" + f.str("harness") + "|" + f.str("session") + "|" + f.str("instanceId");
  };
  auto attrs = [&](std::initializer_list<const char*> keys) {
    json a = json::object();
    for (const char* k : keys) put_string(a, k, f.str(k));
    return a;
  };
  if (type == "run_start" || type == "run_resume") { // a resumed run opens its span again
    open(out, "run", "run", "run", m_external_parent, attrs({"runId", "workflowName"}), at);
  } else if (type == "operation_start") {
    open(out, op, "operation", "lifecycle", parent_of({"run"}),
         attrs({"operationKind", "operationId", "session", "harness", "instanceId"}), at);
  } else if (type == "operation") {
    if (is_error && d.contains("error"))
      point(out, "error", "error", parent_of({op}), error_attributes(d["error"]), at);
    close(out, op, is_error, json::object(), at);
  } else if (type == "agent_start") {
    open(out, agent_key(), "turn", "lifecycle",
         parent_of({"task:" + f.str("taskId"), op, "run"}), attrs({"session", "taskId"}), at);
  } else if (type == "agent_end") {
    close(out, agent_key(), false, json::object(), at);
  } else if (type == "turn_start") {
    open(out, step, "step", "lifecycle", parent_of({agent_key(), op, "run"}), attrs({"turnId"}),
         at);
  } else if (type == "turn") {
    close(out, step, is_error, attrs({"model", "provider", "stopReason"}), at);
  } else if (type == "tool_start") {
    const auto id = open(out, "tool:" + f.str("turnId") + "|" + call_id, "tool", "capability",
                         parent_of({step, agent_key(), op, "run"}),
                         attrs({"toolName", "toolCallId"}), at);
    auto& span = m_open.at(id);
    span.session = f.str("session");
    span.tool_name = f.str("toolName");
    m_tool_calls[call_id] = id;
  } else if (type == "tool_call") {
    close(out, "tool:" + f.str("turnId") + "|" + call_id, is_error, json::object(), at);
  } else if (type == "task_start") {
    // The subagent tool call that started this task: an open tool span of the same session named
    // like the subagent, without a task yet.
    std::string parent;
    for (auto& [id, span] : m_open)
      if (span.name == "tool" && !span.has_task && span.session == f.str("session") &&
          span.tool_name == f.str("agent")) {
        span.has_task = true;
        parent = id;
        break;
      }
    if (parent.empty()) parent = parent_of({op, "run"});
    open(out, "task:" + f.str("taskId"), "subagent", "capability", parent,
         attrs({"taskId", "agent"}), at);
  } else if (type == "task") {
    close(out, "task:" + f.str("taskId"), is_error, json::object(), at);
  } else if (type == "policy_decision" || type == "approval_request" ||
             type == "approval_decision" || type == "error") {
    std::string parent;
    if (const auto it = m_tool_calls.find(call_id); it != m_tool_calls.end()) parent = it->second;
    const auto approval = "approval:" + f.str("approvalId");
    if (parent.empty())
      parent = type == "approval_decision" ? parent_of({approval, step, agent_key(), op, "run"})
                                           : parent_of({step, agent_key(), op, "run"});
    if (type == "policy_decision")
      point(out, "policy.decision", "policy", parent,
            attrs({"toolName", "toolCallId", "decision", "reason", "source", "rule"}), at);
    else if (type == "approval_request")
      point(out, "approval.request", "approval", parent,
            attrs({"approvalId", "toolName", "toolCallId", "reason"}), at, approval);
    else if (type == "approval_decision")
      point(out, "approval.decision", "approval", parent,
            attrs({"approvalId", "decision", "reason", "invoker"}), at);
    else {
      auto a = error_attributes(d.value("error", json::object()));
      put_string(a, "source", f.str("source"));
      put_string(a, "hook", f.str("hook"));
      point(out, "error", "error", parent, std::move(a), at);
    }
  }
  return out;
}

std::vector<json> Tracer::finish(const json& error) {
  std::vector<json> out;
  const long long at = now_ms();
  if (error.is_object()) point(out, "error", "error", parent_of({"run"}), error_attributes(error), at);
  while (!m_open.empty()) {
    // A top span: one whose parent is not open (the root, or one orphaned by a reused key).
    std::string top = m_open.begin()->first;
    for (const auto& [id, span] : m_open)
      if (!m_open.count(span.parent)) {
        top = id;
        break;
      }
    close_span(out, top, error.is_object(), json::object(), at);
  }
  return out;
}

std::string Tracer::traceparent_for(const std::string& tool_call_id, const std::string& turn_id,
                                    const std::string& operation_id) const {
  std::string span;
  if (const auto it = m_tool_calls.find(tool_call_id); it != m_tool_calls.end()) span = it->second;
  if (span.empty()) span = parent_of({"step:" + turn_id, "op:" + operation_id, "run"});
  if (span.empty()) return "";
  return format_traceparent({.trace_id = m_trace_id, .span_id = span, .sampled = m_sampled});
}

} // namespace hearth::runtime

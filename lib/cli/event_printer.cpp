// Event rendering; see event_printer.hpp.
#include "cli/event_printer.hpp"

#include "cli/terminal.hpp"

#include <algorithm>
#include <cstdio>
#include <span>
#include <string_view>

namespace hearth::cli {
namespace {
using nlohmann::json;

/// The argument worth showing after a tool name: a command, a path or a pattern (Flue's rule).
std::string tool_hint(const json& args) {
  for (const char* key : {"command", "path", "pattern", "city", "name", "message"}) {
    if (args.contains(key) && args[key].is_string()) {
      std::string value = args[key].get<std::string>();
      if (value.size() > 80) value = value.substr(0, 77) + "...";
      return std::string(key) == "command" ? "  $ " + value : "  " + value;
    }
  }
  return "";
}

std::string result_text(const json& event) {
  std::string out;
  for (const auto& part : event.value("result", json::object()).value("content", json::array()))
    if (part.value("type", "") == "text") out += part.value("text", "");
  return out;
}

/// The event types print() renders: the others are skipped before anything is read, so a type
/// rendered below but missing here never shows (and the runtime is not asked for it).
constexpr std::string_view k_shown_types[] = {
    "text_delta", "message_end", "turn_end", "log", "tool_start", "tool_call",
    "approval_request", "authorization_required", "authorization_completed",
    "approval_decision", "policy_decision", "task_start", "task", "compaction_start",
    "compaction", "context_cleared", "error"};
/// Rendered with `lifecycle` only.
constexpr std::string_view k_lifecycle_types[] = {"run_start", "run_resume", "operation_start",
                                                  "operation", "run_end"};

bool contains(std::span<const std::string_view> types, std::string_view type) {
  return std::find(types.begin(), types.end(), type) != types.end();
}

} // namespace

std::string format_duration(long long ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2fs", static_cast<double>(ms) / 1000.0);
  return buffer;
}

EventPrinter::EventPrinter(std::ostream& out, bool lifecycle) : m_out(out), m_lifecycle(lifecycle) {}

void EventPrinter::line(const std::string& text) {
  flush();
  m_out << text << '\n' << std::flush;
}

void EventPrinter::text(const std::string& delta) {
  m_pending += delta;
  std::size_t nl;
  while ((nl = m_pending.find('\n')) != std::string::npos) {
    m_out << "  " << m_pending.substr(0, nl) << '\n';
    m_pending.erase(0, nl + 1);
  }
  m_out << std::flush;
}

void EventPrinter::flush() {
  if (m_pending.empty()) return;
  m_out << "  " << m_pending << '\n' << std::flush;
  m_pending.clear();
}

std::vector<std::string> EventPrinter::types() const {
  std::vector<std::string> types(std::begin(k_shown_types), std::end(k_shown_types));
  if (m_lifecycle) types.insert(types.end(), std::begin(k_lifecycle_types), std::end(k_lifecycle_types));
  return types;
}

void EventPrinter::print(const json& event) {
  const auto type = event.value("type", "");
  if (!contains(k_shown_types, type) && !(m_lifecycle && contains(k_lifecycle_types, type))) return;
  const auto dim = [](const std::string& s) { return terminal::style("2", s); };
  if (type == "text_delta") {
    text(event.value("text", ""));
  } else if (type == "message_end" || type == "turn_end") {
    flush();
  } else if (type == "log") {
    const auto level = event.value("level", "info");
    const auto colour = level == "error" ? "31" : level == "warn" ? "33" : "36";
    line(terminal::style(colour, level + ":") + " " + event.value("message", ""));
  } else if (type == "tool_start") {
    line(dim("tool:start  " + event.value("toolName", "") +
             tool_hint(event.value("args", json::object()))));
  } else if (type == "tool_call") {
    const auto duration = "  (" + format_duration(event.value("durationMs", 0LL)) + ")";
    if (event.value("isError", false)) {
      std::string text = result_text(event);
      if (text.size() > 200) text = "(" + std::to_string(text.size()) + " chars)";
      line(terminal::style("31", "tool:error  " + event.value("toolName", "")) + "  " + text +
           duration);
    } else {
      line(dim("tool:done   " + event.value("toolName", "") + duration));
    }
  } else if (type == "approval_request") { // approvals
    line(terminal::style("33", "approval:   " + event.value("toolName", "") + " needs approval (" +
                                   event.value("approvalId", "") + "): " + event.value("reason", "")));
  } else if (type == "authorization_required") { // MCP OAuth (issue 13 §4): the URL to open
    const auto& a = event.contains("authorization") && event["authorization"].is_object()
                        ? event["authorization"] : json::object();
    line(terminal::style("33", "authorize:  " + event.value("name", "") + ": open " +
                                   a.value("url", "") + " in a browser (until " +
                                   a.value("expiresAt", "") + ")"));
  } else if (type == "authorization_completed") {
    line(dim("authorize:  " + event.value("name", "") + " " + event.value("outcome", "")));
  } else if (type == "approval_decision") {
    line(dim("approval:   " + event.value("toolName", "") + " " +
             (event.value("decision", "") == "approve" ? "approved" : "denied") + " (" +
             event.value("approvalId", "") + ")"));
  } else if (type == "policy_decision" && event.value("decision", "") != "allow" &&
             event.value("decision", "") != "require-approval") {
    line(terminal::style("33", "policy:     " + event.value("toolName", "") + " " +
                                   event.value("decision", "") + ": " + event.value("reason", "")));
  } else if (type == "task_start") {
    line(dim("task:start  " + event.value("agent", "") + "  " + event.value("taskId", "")));
  } else if (type == "task") {
    line(dim(std::string(event.value("isError", false) ? "task:error  " : "task:done   ") +
             event.value("taskId", "") + "  (" + format_duration(event.value("durationMs", 0LL)) +
             ")"));
  } else if (type == "compaction_start") { // issue 16 §1
    line(dim("compaction: " + event.value("reason", "") + ", ~" +
             std::to_string(event.value("estimatedTokens", 0LL)) + " tokens"));
  } else if (type == "compaction") {
    line(dim("compaction: " + std::to_string(event.value("messagesBefore", 0LL)) + " -> " +
             std::to_string(event.value("messagesAfter", 0LL)) + " messages sent (" +
             format_duration(event.value("durationMs", 0LL)) + ")"));
  } else if (type == "context_cleared") {
    line(dim("context:    cleared"));
  } else if (type == "error") { // e.g. a failing lifecycle hook (the turn went on)
    std::string message;
    if (const auto it = event.find("error"); it != event.end() && it->is_object())
      message = it->value("message", std::string());
    line(terminal::style("31", "error:") + " " + message);
  } else if (m_lifecycle && type == "run_start") {
    line(dim("run:start    " + event.value("runId", "") + "  workflow=" +
             event.value("workflowName", "")));
  } else if (m_lifecycle && type == "run_resume") {
    line(dim("run:resume   " + event.value("runId", "") + "  attempt=" +
             std::to_string(event.value("attempt", 0))));
  } else if (m_lifecycle && type == "operation_start") {
    line(dim("op:start     " + event.value("operationKind", "")));
  } else if (m_lifecycle && type == "operation") {
    line(dim("op:done      " + event.value("operationKind", "") + "  (" +
             format_duration(event.value("durationMs", 0LL)) + ")"));
  } else if (m_lifecycle && type == "run_end") {
    const auto duration = "  (" + format_duration(event.value("durationMs", 0LL)) + ")";
    if (event.value("isError", false))
      line(terminal::style("31", "run:end      " + event.value("runId", "") + "  ERROR  " +
                                     event.value("error", json::object()).value("message", "")) +
           duration);
    else
      line(dim("run:end      " + event.value("runId", "") + "  ok" + duration));
  }
}

} // namespace hearth::cli

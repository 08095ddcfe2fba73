// The terminal rendering of events (lib/cli/event_printer): it renders exactly the types it
// names in types(), which `hearth run` and `hearth connect` ask the runtime to stream.
#include "cli/event_printer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <iostream>
#include <sstream>

using hearth::cli::EventPrinter;
using nlohmann::json;

namespace {

/// The event types hearth emits (its `emit("...")` calls and the run's own), printed or not.
const char* const k_catalogue[] = {
    "run_start", "run_resume", "run_end", "operation_start", "operation", "idle", "agent_start",
    "agent_end", "turn_start", "turn_end", "turn", "turn_request", "turn_resumed", "message_start",
    "message_update", "message_end", "text_delta", "thinking_delta", "tool_start", "tool_call",
    "policy_decision", "approval_request", "approval_decision", "authorization_required",
    "authorization_completed", "task_start", "task", "compaction_start", "compaction",
    "context_cleared", "usage", "log", "error", "trace", "input_request", "turn_parked"};

/// An event of `type` with every field the printer reads, so that a rendering type shows.
json rich_event(const std::string& type) {
  return {{"type", type}, {"text", "hello\n"}, {"level", "warn"}, {"message", "m"},
          {"toolName", "read_file"}, {"args", {{"path", "a.txt"}}}, {"durationMs", 3},
          {"isError", false}, {"approvalId", "ap_1"}, {"reason", "r"}, {"decision", "deny"},
          {"name", "srv"}, {"outcome", "ok"}, {"authorization", {{"url", "http://x"}}},
          {"agent", "a"}, {"taskId", "t"}, {"estimatedTokens", 10}, {"messagesBefore", 4},
          {"messagesAfter", 2}, {"error", {{"message", "boom"}}}, {"runId", "run_1"},
          {"workflowName", "w"}, {"attempt", 2}, {"operationKind", "prompt"}};
}

std::string rendered(bool lifecycle, const std::string& type) {
  std::ostringstream out;
  EventPrinter printer(out, lifecycle);
  printer.print(rich_event(type));
  printer.flush();
  return out.str();
}

} // namespace

TEST_SUITE("cli") {
  TEST_CASE("event printer: renders exactly the types it names") {
    for (const bool lifecycle : {false, true}) {
      EventPrinter printer(std::cout, lifecycle);
      const auto types = printer.types();
      for (const char* type : k_catalogue) {
        const bool named = std::find(types.begin(), types.end(), type) != types.end();
        const auto text = rendered(lifecycle, type);
        CAPTURE(type);
        CAPTURE(lifecycle);
        if (!named) CHECK(text.empty());
        // message_end and turn_end only end a line of streamed text.
        else if (std::string(type) != "message_end" && std::string(type) != "turn_end")
          CHECK_FALSE(text.empty());
      }
    }
    const auto plain = EventPrinter(std::cout).types();
    const auto full = EventPrinter(std::cout, true).types();
    CHECK(std::find(plain.begin(), plain.end(), "run_end") == plain.end());
    CHECK(std::find(full.begin(), full.end(), "run_end") != full.end());
    CHECK(std::find(full.begin(), full.end(), "trace") == full.end());
  }
}

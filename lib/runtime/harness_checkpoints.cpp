// The harness's durable-run checkpoints (issue 15 §1, docs/runtime.md "Durable runs"): saving
// a turn's state at and inside each step, and resuming from it. See harness_internal.hpp.
#include "runtime/harness_internal.hpp"

#include "core/errors.hpp"

namespace hearth::runtime::harness {

// durable runs ---------------------------------------------------------------------------------
// A checkpoint is the turn's state at a step boundary, or inside a step once the model answered
// (phase "tools": `calls` lists the step's calls, each with its `outcome` once it finished):
// {version, phase, step, turnId, messages, calls?, text, usage, provider, model, invalidResults,
//  options: {model, resultSchema, maxSteps, headless}}. The step that finishes the turn writes
// no "done" checkpoint (save_step); older ones may carry {finished: true, data}.

json TurnRunner::checkpoint_base(int step_number, const TurnResult& result,
                                 const Envelope& envelope) {
  int invalid = 0;
  {
    std::lock_guard lock(m_mutex);
    invalid = m_invalid_results;
  }
  return {{"version", 1}, {"step", step_number}, {"turnId", envelope.turn_id},
          {"text", result.text}, {"usage", usage_json(result.usage)},
          {"provider", result.provider}, {"model", result.model}, {"invalidResults", invalid},
          {"options", {{"model", m_options.model_override},
                       {"resultSchema", m_options.result_schema},
                       {"maxSteps", m_options.max_steps},
                       {"headless", m_options.headless}}}};
}

void TurnRunner::begin_step_checkpoint(const json& messages, int step_number,
                                       const std::vector<providers::ToolCall>& calls,
                                       const TurnResult& result, const Envelope& envelope) {
  if (!m_options.checkpoint) return;
  json checkpoint = checkpoint_base(step_number, result, envelope);
  checkpoint["phase"] = "tools";
  checkpoint["messages"] = messages;
  json list = json::array();
  for (const auto& call : calls)
    list.push_back({{"toolCallId", call.id}, {"toolName", call.name},
                    {"args", call.input.is_object() ? call.input : json::object()}});
  checkpoint["calls"] = std::move(list);
  std::lock_guard lock(m_checkpoint_mutex);
  m_checkpoint = std::move(checkpoint);
  m_options.checkpoint(m_checkpoint);
}

void TurnRunner::note_outcome(std::size_t index, const CallSlot& slot) {
  if (!m_options.checkpoint || slot.request) return;
  std::lock_guard lock(m_checkpoint_mutex);
  if (!m_checkpoint.is_object() || index >= m_checkpoint["calls"].size()) return;
  auto& call = m_checkpoint["calls"][index];
  call["outcome"] = outcome_json(slot.outcome);
  {
    std::lock_guard result_lock(m_mutex);
    m_checkpoint["invalidResults"] = m_invalid_results;
  }
  // An idempotent call (finish, give_up, load_skill, tools declared so) is run again on
  // resume when its outcome is missing, with the same result: its outcome rides along with
  // the next checkpoint instead of costing a commit of its own (issue 17 §3).
  if (idempotent(call.value("toolName", ""))) return;
  m_options.checkpoint(m_checkpoint);
}

void TurnRunner::save_step(const json& messages, int step_number, const TurnResult& result,
                           const Envelope& envelope, bool finished) {
  // The step that finishes the turn needs no "done" checkpoint: the run's end follows in the same
  // process, and should it die first, the step's "tools" checkpoint resumes it without asking the
  // model again: its calls with recorded outcomes keep them, the idempotent rest (`finish`
  // included) run again with the same result. One commit (an fsync under FULL) less per run.
  if (!m_options.checkpoint || finished) return;
  json checkpoint = checkpoint_base(step_number, result, envelope);
  checkpoint["phase"] = "done";
  checkpoint["messages"] = messages;
  std::lock_guard lock(m_checkpoint_mutex);
  m_checkpoint = nullptr;
  m_options.checkpoint(checkpoint);
}

bool TurnRunner::idempotent(const std::string& tool) const {
  if (tool == "finish" || tool == "give_up" || tool == "load_skill") return true; // pure
  for (const auto& def : m_agent.tools)
    if (def.name == tool) return def.idempotent;
  return false;
}

TurnResult TurnRunner::resume_checkpoint(json& messages, const json& checkpoint) {
  messages = checkpoint.value("messages", json::array());
  Envelope envelope = m_scope.envelope;
  envelope.turn_id = checkpoint.value("turnId", "");
  m_scope.events.emit("agent_start", {{"resumed", true}}, envelope);
  TurnResult result = saved_result(checkpoint);
  {
    std::lock_guard lock(m_mutex);
    m_invalid_results = checkpoint.value("invalidResults", 0);
  }
  const int step_number = checkpoint.value("step", 1);
  if (checkpoint.value("phase", "") == "done") {
    if (checkpoint.value("finished", false)) { // written by hearth before 2026-12 for a last step
      result.data = checkpoint.value("data", json());
      m_scope.events.emit("agent_end", {{"messages", messages}}, envelope);
      return result;
    }
    throw_if_cancelled(m_scope.context);
    return step_loop(messages, step_number + 1, std::move(result), nullptr);
  }
  // The model answered this step before the crash: its answer is not asked again. Calls with a
  // recorded result keep it; a call in flight is not re-run unless its tool is idempotent.
  {
    std::lock_guard lock(m_checkpoint_mutex);
    m_checkpoint = checkpoint;
  }
  const json listed = checkpoint.value("calls", json::array());
  std::vector<providers::ToolCall> calls;
  std::vector<ToolOutcome> outcomes;
  for (std::size_t i = 0; i < listed.size(); ++i) {
    const auto& c = listed[i];
    calls.push_back(parked_call(c));
    const auto& call = calls.back();
    if (c.contains("outcome")) {
      outcomes.push_back(outcome_from_json(c["outcome"]));
      absorb_outcome(call, outcomes.back());
      continue;
    }
    if (idempotent(call.name))
      outcomes.push_back(call_tool(call, envelope)); // the tool itself records finish/give_up
    else
      outcomes.push_back(call_tool(call, envelope, true,
                                   ToolOutcome{.text = k_interrupted_call, .is_error = true,
                                               .details = {{"interrupted", true}}}));
    note_outcome(i, {.outcome = outcomes.back()});
  }
  append_results(messages, calls, outcomes, last_assistant(messages), envelope);
  if (!calls.empty()) throw_if_cancelled(m_scope.context);
  const bool finished = after_step(messages, result, !calls.empty());
  save_step(messages, step_number, result, envelope, finished);
  if (finished) {
    m_scope.events.emit("agent_end", {{"messages", messages}}, envelope);
    return result;
  }
  if (m_options.suspend.stop_requested()) throw errors::run_suspended();
  return step_loop(messages, step_number + 1, std::move(result), nullptr);
}

} // namespace hearth::runtime::harness

namespace hearth::runtime {
using harness::json;

TurnOptions checkpoint_options(const json& checkpoint) {
  const json o = checkpoint.value("options", json::object());
  return {.model_override = o.value("model", ""),
          .result_schema = o.value("resultSchema", json()),
          .max_steps = o.value("maxSteps", 0),
          .headless = o.value("headless", false)};
}

} // namespace hearth::runtime

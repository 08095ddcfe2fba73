// The harness's compaction glue (issue 16 §1): compacting a turn's history past the threshold or
// on request, with the summarising model (runtime/compaction.hpp plans and builds it). See
// harness_internal.hpp.
#include "runtime/harness_internal.hpp"

#include "core/errors.hpp"

#include <algorithm>

namespace hearth::runtime::harness {

bool TurnRunner::compact(json& messages, const Envelope& envelope, const std::string& reason,
                         TurnResult* result, bool keep_current_turn) {
  const bool manual = reason == "manual";
  sync_view(messages);
  const auto before_tokens = estimated_tokens();
  const auto before_count = m_sent.size();
  const auto started = Clock::now();
  auto settings = m_compaction;
  const auto plan = plan_compaction(messages, settings, !manual || keep_current_turn);
  // Past the threshold with nothing older than the kept turns: nothing to do, and nothing said
  // (a long turn would otherwise announce it at every step); the request is bounded in model_step.
  if (!plan.worth_it && !manual) return false;
  const std::string model_string = !settings.model.empty() ? settings.model : m_model_string;
  const auto model = providers::parse_model(model_string);
  m_scope.events.emit("compaction_start",
                      {{"reason", reason}, {"estimatedTokens", before_tokens},
                       {"usageInputTokens", before_tokens},
                       {"model", model.model}, {"provider", model.provider}},
                      envelope);
  json done = {{"reason", reason}, {"messagesBefore", before_count},
               {"model", model.model}, {"provider", model.provider}};
  if (!plan.worth_it) {
    done["messagesAfter"] = before_count;
    done["durationMs"] = elapsed_ms(started);
    done["compacted"] = false;
    m_scope.events.emit("compaction", done, envelope);
    return false;
  }
  // The summarising model's window bounds its request; the summary is bounded by ours.
  const auto summary_window = settings.model.empty()
                                  ? window_tokens()
                                  : context_window(model, m_scope.context.env);
  const auto transcript_budget = static_cast<std::size_t>(summary_window) * 4 / 10 * 7;
  auto request = summary_request(messages, plan, model.model, transcript_budget);
  request.cancel = m_scope.context.cancel;
  providers::StepResult step;
  try {
    auto& client = m_scope.models.get(model.provider, m_agent.mock_script);
    step = client.step(request, providers::StreamSink{});
  } catch (const Error& e) {
    // A failed summary leaves the history as it was; the request is still bounded (model_step).
    // compaction_start is always answered by a compaction event, a cancelled one included.
    done["messagesAfter"] = before_count;
    done["durationMs"] = elapsed_ms(started);
    done["compacted"] = false;
    done["error"] = error_json(e);
    m_scope.events.emit("compaction", done, envelope);
    if (manual || e.info().type == "cancelled") throw;
    m_compaction_failed = true; // not again at every step of this turn (a broken model doubles calls)
    return false;
  }
  if (result) add_usage(result->usage, step.usage);
  const auto summary_chars = std::max<std::size_t>(
      1024, static_cast<std::size_t>(trigger_tokens()) * 4 / 4); // a quarter of the threshold
  messages.push_back(checkpoint_entry(step.text, plan, before_tokens, summary_chars));
  if (m_options.persist) m_options.persist(messages); // the checkpoint is committed first
  sync_view(messages);
  done["messagesAfter"] = m_sent.size();
  done["durationMs"] = elapsed_ms(started);
  done["usage"] = usage_json(step.usage);
  done["tokensBefore"] = before_tokens;
  done["tokensAfter"] = estimated_tokens();
  done["firstKept"] = plan.first_kept;
  done["compacted"] = true;
  m_scope.events.emit("compaction", done, envelope);
  return true;
}

} // namespace hearth::runtime::harness

namespace hearth::runtime {
using harness::json;
using harness::TurnRunner;

bool compact_history(TurnScope& scope, const AgentDef& agent, json& messages,
                     const TurnOptions& options, bool keep_current_turn) {
  TurnRunner runner(scope, agent, options);
  return runner.compact(messages, scope.envelope, "manual", nullptr, keep_current_turn);
}

} // namespace hearth::runtime

// Conversation compaction (issue 16 §1; seed 003 "Context compaction", Flue 0.11's
// compaction_start / compaction events): when the history a step would send crosses a fraction of
// the model's context window, the older part is summarised into a checkpoint and later steps send
// the checkpoint plus the recent turns. Nothing is deleted: the checkpoint is one more entry of the
// session's history (role "compactionSummary", as pi's), so the full history stays readable in the
// store and on the streams; `context.cleared` appends a "contextCleared" marker the same way.
//
// The history the model sees (the "view") starts after the newest marker:
//   - contextCleared at i:    messages (i, end)
//   - compactionSummary at i: pinned messages before its `firstKept`, the summary as a user
//                              message, then messages [firstKept, end) without markers.
#pragma once

#include "providers/provider.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::runtime {

/// agent.json `compaction` (docs/sessions.md), defaults as Eve's (thresholdPercent 0.9).
struct CompactionSettings {
  bool enabled = true;
  double threshold_percent = 0.9;       // of the context window, (0, 1]
  std::int64_t context_window_tokens = 0; // 0: the model table's (providers::context_window)
  std::string model{};                  // the summarising model; "": the turn's model
  int keep_recent_turns = 2;            // turns (user messages onwards) kept verbatim, 0..1000
  bool pin_first_message = false;       // keep the session's first user message verbatim
};

/// Reads the manifest's `compaction` (null, false, or an object as discovery validated it);
/// out-of-range values are clamped, never thrown.
CompactionSettings compaction_settings(const nlohmann::json& authored);

/// Role names of the two history markers.
inline constexpr const char* k_compaction_role = "compactionSummary";
inline constexpr const char* k_cleared_role = "contextCleared";

/// Characters of one summary and of the transcript a summary request carries: the summary request
/// is bounded whatever the history's size (hostile histories), and so is what it adds.
inline constexpr std::size_t k_max_summary_chars = 64 * 1024;
inline constexpr std::size_t k_max_transcript_chars = 512 * 1024;
/// One message's text in a summary transcript, at most.
inline constexpr std::size_t k_max_transcript_message_chars = 8 * 1024;

/// True for the two history markers (never sent to the model as they are).
bool is_marker(const nlohmann::json& message);

/// True when `message` starts a turn: a user message that is not a reminder the harness added
/// (`"reminder": true`, e.g. the structured-output reminder), so keepRecentTurns and
/// pinFirstMessage count what the user said.
bool starts_turn(const nlohmann::json& message);

/// The model's view of a history, as a small prefix plus a contiguous tail: `prefix` (pinned
/// messages, then the summary as a user message), then messages [tail_from, end) without markers.
struct View {
  nlohmann::json prefix = nlohmann::json::array();
  std::size_t tail_from = 0;
  std::string summary{}; // the checkpoint's summary, "" when the view starts at a clear or at 0
  std::vector<std::size_t> pinned{};
};

/// The view that the marker at `marker` (an index of `messages` holding a marker) starts.
View view_at(const nlohmann::json& messages, std::size_t marker);

/// The view of `messages`: after its newest marker, or all of it. O(messages) (scans backwards).
View view_of(const nlohmann::json& messages);

/// The Flue-shaped messages the model sees (see the file comment).
nlohmann::json model_view(const nlohmann::json& messages);

/// Characters of a Flue message as it goes to the model (text, tool call arguments, results).
std::size_t message_chars(const nlohmann::json& message);

/// Tokens for `chars` characters, as the mock and Eve's mockModel estimate them: ceil(chars / 4).
inline std::int64_t tokens_for_chars(std::size_t chars) {
  return static_cast<std::int64_t>((chars + 3) / 4);
}

/// What a compaction would summarise and keep: messages [from, first_kept) are summarised
/// (together with the previous summary, if any), `pinned` (indices before first_kept) stay.
struct CompactionPlan {
  bool worth_it = false;          // false: nothing older than the kept turns
  std::size_t from = 0;
  std::size_t first_kept = 0;
  std::vector<std::size_t> pinned{};
  std::string previous_summary{};
};
/// `in_turn`: a turn is in progress, so its newest turn is kept whatever keepRecentTurns says
/// (false for a manual compaction between turns: keepRecentTurns 0 summarises everything).
CompactionPlan plan_compaction(const nlohmann::json& messages, const CompactionSettings& settings,
                               bool in_turn = true);

/// The bounded summary request for `plan`: a system prompt and one user message holding the
/// transcript (the previous summary first, each message cut at k_max_transcript_message_chars,
/// the whole at k_max_transcript_chars keeping the newest part).
/// `budget_chars` (> 0) bounds the transcript further (the summarising model's window).
providers::StepRequest summary_request(const nlohmann::json& messages, const CompactionPlan& plan,
                                       const std::string& model, std::size_t budget_chars);

/// The checkpoint entry appended to the history: {role: "compactionSummary", summary (cut at
/// `max_chars`, itself at most k_max_summary_chars), firstKept, pinned, tokensBefore, timestamp}.
nlohmann::json checkpoint_entry(std::string summary, const CompactionPlan& plan,
                                std::int64_t tokens_before, std::size_t max_chars);

/// The marker `clear` appends: {role: "contextCleared", timestamp}.
nlohmann::json cleared_entry();

/// The messages bound_request dropped: [from, from + count) of the request it was given,
/// replaced by one note (a user message) at `from` when count > 0.
struct BoundedRange {
  std::size_t from = 0;
  std::size_t count = 0;
};

/// Bounds the request about to be sent (provider-neutral messages; the stored history is not
/// touched) to about `budget_chars` of text and tool-call arguments: the first `keep_first`
/// messages (the view's prefix: pinned messages, the summary) are kept, cut to a quarter of the
/// budget together; then the newest messages are kept whole as far as they fit, the one that does
/// not fit is cut with a note (oversized tool-call arguments are replaced by a small JSON object
/// naming the cut; tool results and texts are cut with a marker), and every older one is dropped
/// (with one note saying how many), never leaving a tool result without its call. The newest
/// message is always sent. Afterwards the request holds at most about budget_chars characters
/// plus the notes' own (a few hundred characters per cut message). Used when the turns kept verbatim are
/// themselves larger than the window (huge write_file arguments, huge tool results).
BoundedRange bound_request(std::vector<providers::Message>& messages, std::size_t budget_chars,
                           std::size_t keep_first = 0);

/// The context window of `model` in tokens, from the model table in docs/providers.md ("Context
/// windows"): known model families by prefix, else 128000. The mock's is 128000 unless
/// HEARTH_MOCK_CONTEXT_WINDOW (read through `env`, an integer 256..10^9) says otherwise, so tests
/// can drive a session past its threshold with little text.
std::int64_t context_window(const providers::ModelRef& model, const providers::EnvLookup& env);

} // namespace hearth::runtime

// The `mock` provider: deterministic local answers for tests and offline runs, used only when a
// model string names it. mock/echo echoes (or fills `finish`); mock/script replays a JSONL script.
#pragma once

#include "providers/provider.hpp"

#include <filesystem>
#include <memory>

namespace hearth::providers {

/// Longest `delayMs` a mock script step may ask for (10 minutes).
inline constexpr long long k_max_mock_delay_ms = 600'000;

/// The mock provider. `script` is mock/script's file when HEARTH_MOCK_SCRIPT (read through `env`
/// when the first script step runs) is unset. Script lines: {"text"}, {"toolCalls": [{"name",
/// "input"}], "text"?} or {"result": {...}} (a call to the `finish` tool); any of them may add
/// "delayMs": N (0..k_max_mock_delay_ms) to hold the step open N ms before it answers, the way a
/// slow model would (cancelling the turn ends the wait: step() throws turn_cancelled; the step is
/// used up, so the next turn gets the next line). The cursor advances
/// once per step for the object's lifetime; step() throws mock_script_exhausted past the end,
/// mock_script_not_found / mock_script_invalid for a missing or bad script, mock_model_unknown.
std::unique_ptr<Provider> make_mock(EnvLookup env, std::filesystem::path script);

/// The tool mock/echo calls instead of echoing when offered (the harness's structured result).
inline constexpr const char* k_finish_tool = "finish";

} // namespace hearth::providers

// `hearth eval` (issue 16 §4, seed 003 "eve eval", docs/evals.md): evals discovered under
// `evals/` (a sibling of `agent/`), the checks they make on what the agent or workflow did, and
// their results. Declarative evals (`*.eval.json`, `*.eval.md`) carry input messages or a workflow
// payload plus checks; executable evals (`*.eval.py`, `*.eval.sh`, `*.eval.mjs`, any executable
// `*.eval`) speak the ctx protocol with the runner (runner.hpp) and report a score.
#pragma once

#include "core/error.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace hearth::eval {

/// Bounds on everything read from eval files (every byte from outside is hostile). Past one, that
/// eval is errored with errors::eval_invalid naming the bound; discovery itself never throws for
/// file contents.
struct Limits {
  std::size_t max_file_bytes = 1u << 20;     // one eval file
  std::size_t max_evals = 1000;              // files discovered (past it: the rest are ignored)
  std::size_t max_entries = 20000;           // directory entries walked under evals/
  std::size_t max_depth = 16;                // directory nesting under evals/
  std::size_t max_checks = 100;              // checks of one eval
  std::size_t max_messages = 100;            // input messages of one eval
  std::size_t max_message_bytes = 256u << 10; // one input message
  std::size_t max_regex_bytes = 1024;        // one `matches` / `argsMatch` pattern
  std::size_t max_tags = 32;                 // tags of one eval
  std::size_t max_tag_bytes = 100;           // one tag
  std::size_t max_id_bytes = 200;            // an eval id (its path under evals/)
};

/// What runs an eval.
enum class Kind { agent, workflow, script };

/// "agent", "workflow" or "script".
std::string to_string(Kind kind);

/// One check of a declarative eval (docs/evals.md "Checks"). `kind` is the check's key:
/// contains, notContains, matches, equals, schema, toolCalled, toolNotCalled, maxSteps,
/// maxTokens, maxLatencyMs, judge.
struct Check {
  std::string kind{};
  nlohmann::json value{};        // the key's value (string, list, JSON, schema, number, criteria)
  bool ignore_case = false;      // contains / notContains / matches ("flags": "i")
  std::string path{};            // equals / schema: a JSON pointer into the structured output
  nlohmann::json args{};         // toolCalled: partial JSON the call's input must contain
  std::string args_match{};      // toolCalled: POSIX extended regex over the input's JSON text
  std::string model{};           // judge: the judge's provider/model (default: the agent's)
  bool soft = false;             // a score with a threshold rather than a gate
  double threshold = 1.0;        // soft: the score at or above which the check passes
  std::string name{};            // shown in reports; default "<kind> <value>"
};

/// One discovered eval. `invalid` is set when the file could not be used: running it errors.
struct Eval {
  std::string id{};             // path under evals/ without the `.eval.<ext>` suffix: "weather/tool"
  std::filesystem::path file{}; // absolute
  std::string relative{};       // the file's path relative to the project root, for messages
  Kind kind = Kind::agent;
  std::string description{};
  std::vector<std::string> tags{};
  std::vector<std::string> messages{}; // agent: user messages, sent in order to one session
  nlohmann::json output_schema{};      // agent: `outputSchema` of the last message (JSON Schema)
  std::string workflow{};              // workflow: its name
  nlohmann::json payload = nlohmann::json::object(); // workflow payload; script: workflow.run payload
  std::vector<Check> checks{};
  std::optional<long long> timeout_ms{}; // the eval's own `timeoutMs` (a flag's value wins)
  std::vector<std::string> command{};    // script: argv
  std::optional<Error> invalid{};
};

/// `<root>/evals`: evals live at the app root as a sibling of `agent/` (seed 003 "Eve project
/// layout"), also when the agent sources sit under `src/`.
std::filesystem::path evals_dir(const std::filesystem::path& project_root);

/// Every eval under `dir` (sorted by id): `*.eval.json`, `*.eval.md`, and executable evals.
/// Symlinks and hidden entries are skipped; walking stops at the bounds of `limits`. An id used
/// twice leaves the later file invalid. An absent directory gives an empty list. Never throws for
/// file contents (those make the eval invalid); throws errors::io_error when `dir` is unreadable.
std::vector<Eval> discover(const std::filesystem::path& dir, const std::filesystem::path& root,
                           const Limits& limits = {});

/// Parses one declarative eval `text` (JSON object, or Markdown whose frontmatter holds the same
/// fields and whose body is the single input message). Throws errors::eval_invalid naming
/// `relative` and the first problem.
Eval parse_declarative(std::string_view text, bool markdown, const std::string& relative,
                       const Limits& limits = {});

/// The checks of a JSON `checks` list. Throws errors::eval_invalid naming `relative`.
std::vector<Check> parse_checks(const nlohmann::json& list, const std::string& relative,
                                const Limits& limits = {});

/// True when `id` is selected by `filter`: the same id, or a directory prefix ("weather" and
/// "weather/" select "weather/tool"; "weath" does not).
bool id_matches(std::string_view id, std::string_view filter);

/// True when `eval` carries one of `tags` (or `tags` is empty).
bool has_any_tag(const Eval& eval, const std::vector<std::string>& tags);

} // namespace hearth::eval

// `hearth eval [evalId...]` (issue 16 §4; seed 003 "eve eval"): runs the evals under evals/ against
// the project served in this process on 127.0.0.1:0, or against --url; prints a table (or --json),
// writes --junit. Exit codes as Eve's: 0 passed, 1 a check failed / an eval errored / a soft
// threshold missed under --strict, 2 configuration error (no evals, no match, bad flag values).
#include "cli/commands/commands.hpp"
#include "cli/compile_report.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "core/errors_eval.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "eval/judge.hpp"
#include "eval/report.hpp"
#include "eval/runner.hpp"
#include "server/auth/setup.hpp"
#include "server/child.hpp"
#include "server/server.hpp"

#include <ctime>
#include <iostream>
#include <mutex>
#include <unistd.h>

namespace hearth::cli {
namespace {
using nlohmann::json;

struct EvalOptions {
  std::vector<std::string> ids{};
  std::string url{};
  std::vector<std::string> tags{};
  bool strict = false;
  bool list = false;
  bool json = false;
  bool verbose = false;
  std::string timeout{};
  std::string max_concurrency{};
  std::string junit{};
  config::ProjectFlags project{};
};

[[noreturn]] void bad_flag(const std::string& flag, const std::string& problem, const std::string& hint) {
  throw errors::eval_config("invalid_flag", "Invalid " + flag + ": " + problem, hint);
}

/// A decimal integer flag value in [min, max]; a configuration error (exit 2) otherwise.
long long integer_flag(const std::string& flag, const std::string& value, long long min, long long max,
                       const std::string& hint) {
  if (value.empty() || value.size() > 12 || value.find_first_not_of("0123456789") != std::string::npos)
    bad_flag(flag, "\"" + value.substr(0, 40) + "\" is not a " +
                       (min > 0 ? std::string("positive") : std::string("non-negative")) + " integer",
             hint);
  const long long n = std::stoll(value);
  if (n < min || n > max)
    bad_flag(flag, value + " is outside " + std::to_string(min) + ".." + std::to_string(max), hint);
  return n;
}

/// The evals the ids and tags select; configuration errors when nothing (or an id) matches.
std::vector<eval::Eval> select(const std::vector<eval::Eval>& all, const EvalOptions& opts) {
  std::vector<std::string> ids;
  for (const auto& e : all) ids.push_back(e.id);
  for (const auto& filter : opts.ids) {
    bool any = false;
    for (const auto& e : all) any = any || eval::id_matches(e.id, filter);
    if (!any) {
      // "greet" for "greeting": a string prefix is the likelier slip than an edit.
      auto near = text::nearest(filter, ids);
      for (const auto& id : ids)
        if (!near && text::starts_with(id, filter)) near = id;
      throw errors::eval_config("eval_no_match", "No eval matches \"" + filter.substr(0, 200) + "\".",
                                near ? "Did you mean \"" + *near + "\"? `hearth eval --list` shows every eval."
                                     : "`hearth eval --list` shows every eval.");
    }
  }
  std::vector<eval::Eval> out;
  for (const auto& e : all) {
    bool selected = opts.ids.empty();
    for (const auto& filter : opts.ids) selected = selected || eval::id_matches(e.id, filter);
    if (selected && eval::has_any_tag(e, opts.tags)) out.push_back(e);
  }
  if (out.empty())
    throw errors::eval_config("eval_no_match", "No eval matches the filters (tags: " +
                                                   text::quote_list(opts.tags) + ").",
                              "`hearth eval --list` shows every eval with its tags.");
  return out;
}

int list(const std::vector<eval::Eval>& evals, bool as_json) {
  if (as_json) {
    json out = json::array();
    for (const auto& e : evals) {
      json entry = {{"id", e.id}, {"path", e.relative}, {"kind", eval::to_string(e.kind)}, {"tags", e.tags}};
      if (!e.description.empty()) entry["description"] = e.description;
      if (e.invalid) entry["error"] = {{"type", e.invalid->info().type}, {"message", e.invalid->info().message}};
      out.push_back(entry);
    }
    std::cout << dump_json(out, 2) << '\n';
    return 0;
  }
  for (const auto& e : evals) {
    std::string line = e.id + "  " + eval::to_string(e.kind) + "  " + e.relative;
    if (!e.tags.empty()) line += "  [" + text::quote_list(e.tags) + "]";
    if (e.invalid) line += "  (invalid: " + e.invalid->info().message + ")";
    std::cout << line << '\n';
  }
  std::cout << std::flush;
  return 0;
}

std::string utc_now() {
  const auto now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

/// The project served in this process on 127.0.0.1:0 for the length of the run (as `hearth dev`
/// serves it, without the watcher). Torn down by the destructor.
class LocalServer {
public:
  explicit LocalServer(const config::Project& project) : m_host(project, false, /*serving=*/true) {
    server::ServerOptions options;
    server::apply_limits(project.server, options);
    options.host = "127.0.0.1";
    options.port = 0;
    options.dev = true;
    options.auth = std::make_shared<const server::auth::Config>(
        server::auth::load_config(project, {.dev = true, .bound_host = options.host}));
    m_server = std::make_unique<server::Server>(m_host.runtime(), options);
    m_server->start();
  }
  ~LocalServer() {
    m_server->shutdown(std::chrono::seconds(2));
    m_host.runtime().cancel_active_runs("hearth eval finished.", /*keep_resumable=*/false);
  }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;
  std::string url() const { return m_server->url(); }

private:
  RuntimeHost m_host;
  std::unique_ptr<server::Server> m_server{};
};

int run_eval(const EvalOptions& opts) {
  std::optional<long long> timeout;
  if (!opts.timeout.empty())
    timeout = integer_flag("--timeout", opts.timeout, 0, 86'400'000,
                           "Milliseconds per eval, a non-negative integer (0: no limit).");
  std::size_t concurrency = 8;
  if (!opts.max_concurrency.empty())
    concurrency = static_cast<std::size_t>(integer_flag(
        "--max-concurrency", opts.max_concurrency, 1, 256, "A positive integer, e.g. --max-concurrency 4."));
  if (!opts.url.empty())
    if (const auto problem = eval::url_problem(opts.url); !problem.empty())
      bad_flag("--url", problem, "e.g. --url https://my-agent.example.com");
  for (const auto& tag : opts.tags)
    if (tag.empty() || tag.size() > 100) bad_flag("--tag", "tags are 1..100 bytes", "e.g. --tag smoke");
  std::filesystem::path junit;
  if (!opts.junit.empty()) {
    junit = std::filesystem::absolute(opts.junit);
    std::error_code ec;
    if (!std::filesystem::is_directory(junit.parent_path(), ec) || std::filesystem::is_directory(junit, ec))
      bad_flag("--junit", "cannot write " + opts.junit + " (its directory does not exist, or it is one)",
               "e.g. --junit reports/evals.xml after mkdir -p reports");
  }

  const auto project = resolve_project(opts.project);
  const auto dir = eval::evals_dir(project.root);
  const auto all = eval::discover(dir, project.root);
  if (all.empty())
    throw errors::eval_config("eval_no_evals", "No evals found in " + dir.string() + ".",
                              "Add evals/<name>.eval.json or .eval.md (docs/evals.md), or start from "
                              "`hearth init --template evals`.");
  const auto evals = select(all, opts);
  if (opts.list) return list(evals, opts.json);

  // The judge uses the project's providers and the root agent's model (docs/evals.md).
  auto context = runtime_context(project);
  eval::JudgeConfig judge{.default_model = context.default_model,
                          .providers = context.providers,
                          .env = context.env};
  std::string root_agent;
  std::unique_ptr<LocalServer> local;
  const bool need_local = opts.url.empty();
  std::optional<manifest::CompileResult> compiled;
  compiled = compile_reporting(project, /*quiet=*/true);
  if (!compiled && need_local) return exit_code(ExitCode::failure);
  if (compiled) {
    const auto& m = compiled->manifest;
    root_agent = m.value("rootAgent", json()).is_string() ? m["rootAgent"].get<std::string>() : "";
    if (m.contains("agents") && m["agents"].is_array() && !m["agents"].empty()) {
      const auto& agent = m["agents"][0];
      if (agent.contains("model") && agent["model"].is_string()) judge.default_model = agent["model"];
      if (agent.contains("dir") && agent["dir"].is_string())
        judge.mock_script = project.root / agent["dir"].get<std::string>() / "mock.jsonl";
    }
  }
  if (need_local) local = std::make_unique<LocalServer>(project);
  const std::string url = need_local ? local->url() : opts.url;

  eval::RunOptions run{.timeout_ms = timeout,
                       .max_concurrency = concurrency,
                       .strict = opts.strict,
                       .judge = eval::make_judge(judge),
                       .project_root = project.root,
                       .root_agent = root_agent};
  run.target.url = url;
  if (const char* token = std::getenv("HEARTH_EVAL_TOKEN"); token && *token)
    run.target.headers["Authorization"] = std::string("Bearer ") + token;
  std::mutex out_mutex;
  std::ostream& log_stream = opts.json ? std::cerr : std::cout;
  if (opts.verbose)
    run.on_log = [&](const std::string& id, const std::string& line) {
      std::lock_guard lock(out_mutex);
      log_stream << "[" << id << "] " << text::to_utf8(line.substr(0, 4000)) << '\n' << std::flush;
    };
  if (!opts.json)
    terminal::info("running " + std::to_string(evals.size()) + " eval" + (evals.size() == 1 ? "" : "s") +
                   " against " + url);
  const auto started = eval::Clock::now();
  const auto results = eval::run_all(evals, run);
  const auto summary = eval::summarize(
      results, std::chrono::duration<double, std::milli>(eval::Clock::now() - started).count());
  local.reset(); // tear the server down before reporting: nothing outlives the run

  if (!junit.empty()) fs::write_file_atomic(junit, eval::render_junit(results, summary, utc_now()));
  if (opts.json)
    std::cout << dump_json(eval::render_json(results, summary, opts.strict, url), 2) << '\n';
  else
    std::cout << eval::render_table(results, summary, opts.strict,
                                    ::isatty(STDOUT_FILENO) && !std::getenv("NO_COLOR"));
  std::cout << std::flush;
  return eval::exit_code_for(results);
}

} // namespace

void register_eval(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "Run the evals under evals/ against the project or --url");
  cmd->add_option("evalId", opts->ids, "Eval ids or directory prefixes (default: all)");
  cmd->add_option("--url", opts->url, "Drive this server instead of starting the project locally")
      ->option_text("URL");
  cmd->add_option("--tag", opts->tags, "Run only evals carrying one of these tags; repeatable")
      ->option_text("TAG")
      ->allow_extra_args(false);
  cmd->add_flag("--strict", opts->strict, "Soft checks below their threshold fail the eval too");
  cmd->add_flag("--list", opts->list, "Print the discovered evals without running them");
  cmd->add_option("--timeout", opts->timeout, "Per-eval timeout in ms (default: the eval's, else 120000)")
      ->option_text("MS");
  cmd->add_option("--max-concurrency", opts->max_concurrency, "Evals run at once (default: 8)")
      ->option_text("N");
  cmd->add_flag("--json", opts->json, "Print the results as one JSON document instead of the table");
  set_completion(
      cmd->add_option("--junit", opts->junit, "Write JUnit XML results to FILE")->option_text("FILE"),
      "files");
  cmd->add_flag("--verbose", opts->verbose, "Stream each eval's log lines as they happen");
  add_project_flags(*cmd, opts->project);
  cmd->footer("Exit codes: 0 every eval passed, 1 a check failed or an eval errored (or a soft "
              "threshold was missed with --strict), 2 configuration error. docs/evals.md");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_eval(*opts); }; });
}

} // namespace hearth::cli

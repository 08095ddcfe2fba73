// `hearth logs <runId>`: replays (and, for an active run, follows) a workflow run's events from
// the local store, or from a running server with `--server` (cli/logs_server.hpp). Exit 2 when
// the run ended with isError (seed page 15, `flue logs`).
#include "cli/commands/commands.hpp"
#include "core/json.hpp"
#include "cli/event_printer.hpp"
#include "cli/interrupts.hpp"
#include "cli/logs_server.hpp"
#include "core/errors.hpp"
#include "core/text.hpp"
#include "runtime/trace.hpp"
#include "store/store.hpp"

#include <iostream>
#include <set>

namespace hearth::cli {
namespace {

struct LogsOptions {
  std::string run_id{};
  std::string format = "pretty";
  std::string types{};
  std::optional<long long> limit{};
  std::string since{};
  bool follow = false;
  bool no_follow = false;
  bool traces = false;                // --traces: the run's TraceEvents as a tree (or ndjson)
  std::string server{};               // --server: read over HTTP instead of the local store
  std::vector<std::string> headers{}; // --header, with --server
  config::ProjectFlags project{};
};

/// `--since`: a Durable Streams offset, or a plain eventIndex as Flue 0.10 accepted.
std::int64_t since_seq(const std::string& since) {
  if (since.empty()) return -1;
  if (since.find_first_not_of("0123456789") == std::string::npos && since.size() < 17)
    return std::stoll(since);
  const auto offset = store::parse_offset(since); // throws invalid_offset
  return offset.kind == store::StreamOffset::Kind::after ? offset.after_seq : -1;
}

std::unique_ptr<store::Store> open_local_store(const config::Project& project,
                                               const std::string& run_id) {
  if (project.store.kind == config::StoreConfig::Kind::memory)
    throw errors::usage("The project keeps its runs in memory (`store: \"memory:\"`), so there is "
                        "nothing to read afterwards.",
                        "Use `hearth logs <runId> --server <url>` against a running server.");
  if (project.store.kind == config::StoreConfig::Kind::sqlite &&
      !std::filesystem::exists(project.store.path))
    throw errors::run_not_found(run_id);
  return store::open_store(project.store.location(), project.root);
}

/// `--server`: the same flags, over HTTP.
int read_from_server(const LogsOptions& opts) {
  ServerLogsOptions server{.server = opts.server, .headers = opts.headers, .run_id = opts.run_id};
  if (opts.follow) server.follow = true;
  if (opts.no_follow) server.follow = false;
  server.since = opts.since;
  for (const auto& t : text::split(opts.types, ','))
    if (!text::trim(t).empty()) server.types.insert(std::string(text::trim(t)));
  server.limit = opts.limit;
  server.format = opts.format;
  return cli::logs_from_server(server);
}

/// `--traces`: every TraceEvent stored in the run's stream so far (issue 12 §5), as ndjson (one
/// bare TraceEvent per line) or as an indented tree, on stdout. Exit 2 when the run failed.
int print_traces(store::Store& store, const LogsOptions& opts) {
  const std::string path = "runs/" + opts.run_id;
  std::vector<nlohmann::json> traces;
  bool failed = false;
  for (std::int64_t seq = since_seq(opts.since);;) {
    const auto page = store.read(path, seq);
    for (const auto& event : page.events) {
      seq = event.seq;
      if (event.type == "run_end" && event.data.value("isError", false)) failed = true;
      if (event.type != runtime::k_trace_event_type) continue;
      const auto it = event.data.find("traceEvent");
      if (it == event.data.end() || !it->is_object()) continue;
      if (opts.limit && static_cast<long long>(traces.size()) >= *opts.limit) break;
      traces.push_back(*it);
    }
    if (page.up_to_date || page.events.empty()) break;
  }
  if (opts.format == "ndjson")
    for (const auto& t : traces) std::cout << hearth::dump_json(t) << '\n';
  else
    std::cout << runtime::render_trace_tree(traces);
  std::cout << std::flush;
  return exit_code(failed ? ExitCode::run_failed : ExitCode::ok);
}

int logs(const LogsOptions& opts) {
  if (opts.traces && !opts.server.empty())
    throw errors::usage("--traces reads the local store; it does not combine with --server.",
                        "Run `hearth logs <runId> --traces` in the project directory.");
  if (!opts.server.empty()) return read_from_server(opts);
  if (!opts.headers.empty())
    throw errors::usage("--header needs --server.", "e.g. hearth logs <runId> --server URL --header 'Name: value'");
  if (opts.limit && *opts.limit <= 0)
    throw errors::invalid_flag("--limit", "must be a positive integer", "e.g. --limit 20");
  const auto after = since_seq(opts.since);
  std::set<std::string> types;
  for (const auto& t : text::split(opts.types, ','))
    if (!text::trim(t).empty()) types.insert(std::string(text::trim(t)));
  const auto project = resolve_project(opts.project);
  auto store = open_local_store(project, opts.run_id);
  auto run = store->get_run(opts.run_id);
  // A schedule fire's session (`sched_<ULID>`, docs/triggers.md) is read from the root agent's
  // instance stream; it has no run record, so it is printed without following.
  std::string path = "runs/" + opts.run_id;
  if (!run && opts.run_id.rfind("sched_", 0) == 0 &&
      store->stream_info("agents/" + project.name + "/" + opts.run_id))
    path = "agents/" + project.name + "/" + opts.run_id;
  else if (!run) throw errors::run_not_found(opts.run_id);
  if (opts.traces && run) return print_traces(*store, opts);
  const bool follow = run && (opts.follow || (!opts.no_follow && run->status == store::RunStatus::active));

  std::atomic<bool> stop{false};
  InterruptWatcher interrupts([&stop](int) { stop = true; });
  EventPrinter printer(std::cerr, /*lifecycle=*/true);
  std::int64_t seq = after;
  long long emitted = 0;
  bool failed = false;
  while (!stop) {
    const auto page = store->read(path, seq);
    for (const auto& event : page.events) {
      seq = event.seq;
      auto wire = store::to_json(event);
      if (event.type == "run_end" && wire.value("isError", false)) failed = true;
      if (!types.empty() && !types.count(event.type)) continue;
      if (opts.format == "ndjson") {
        wire["offset"] = store::format_offset(event.seq);
        std::cout << hearth::dump_json(wire) << '\n';
      } else {
        printer.print(wire);
      }
      if (opts.limit && ++emitted >= *opts.limit) {
        std::cout << std::flush;
        return exit_code(failed ? ExitCode::run_failed : ExitCode::ok);
      }
    }
    std::cout << std::flush;
    if (!page.up_to_date) continue;
    if (page.closed || !follow) break;
    if (!store->wait_for_events(path, seq,
                                std::chrono::steady_clock::now() + std::chrono::seconds(1))) {
      // Nothing new for a second: if the runtime that owns the run is gone (killed, crashed),
      // no run_end will ever come from it. End the run runtime_crashed, as the next runtime
      // would, and print that end instead of following forever.
      const auto now = store->get_run(opts.run_id);
      if (now && now->status == store::RunStatus::active) store->recover_abandoned_runs();
    }
  }
  printer.flush();
  if (const auto code = interrupts.exit_code()) return *code;
  return exit_code(failed ? ExitCode::run_failed : ExitCode::ok);
}

} // namespace

void register_logs(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<LogsOptions>();
  auto* cmd = app.add_subcommand("logs", "Replay or follow a workflow run's events");
  cmd->add_option("runId", opts->run_id, "Run id (run_...)")->required();
  add_choice_option(*cmd, "--format", opts->format, {"pretty", "ndjson"},
                    "pretty (stderr, default) or ndjson (stdout, one event per line)");
  cmd->add_option("--types", opts->types, "Only these event types, comma separated");
  cmd->add_option("--limit", opts->limit, "Stop after this many events");
  cmd->add_option("--since", opts->since, "Start strictly after this offset (or eventIndex)");
  auto* follow = cmd->add_flag("-f,--follow", opts->follow, "Follow until the run ends");
  auto* no_follow = cmd->add_flag("--no-follow", opts->no_follow, "Print what is there and exit");
  follow->excludes(no_follow);
  cmd->add_flag("--traces", opts->traces,
                "Print the run's TraceEvents as a tree (with --format ndjson: one per line)");
  cmd->add_option("--server", opts->server, "Read from this running server (Durable Streams)");
  cmd->add_option("--header", opts->headers, "HTTP header for --server, 'Name: value' (repeatable)")
      ->allow_extra_args(false);
  add_project_flags(*cmd, opts->project);
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return logs(*opts); }; });
}

} // namespace hearth::cli

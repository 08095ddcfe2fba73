// `hearth connect <agent> <instance-id>`: one prompt per stdin line to a durable agent instance;
// results as JSON on stdout, events on stderr, an error keeps the session open (seed page 15).
#include "cli/commands/commands.hpp"
#include "core/json.hpp"
#include "cli/compile_report.hpp"
#include "cli/event_printer.hpp"
#include "cli/interrupts.hpp"
#include "cli/line_reader.hpp"
#include "cli/runtime_setup.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "runtime/warm.hpp"

#include <cctype>
#include <atomic>
#include <csignal>
#include <iostream>
#include <mutex>
#include <set>

namespace hearth::cli {
namespace {

struct ConnectOptions {
  std::string agent{};
  std::string instance_id{};
  std::string session = "default";
  std::string model{};
  std::string profile{}; // agent.json invoker profile id (seed 002); the local user may select
  config::ProjectFlags project{};
};

// approvals: a parked turn's requests asked on the terminal (or scripted stdin), answered with
// `input.respond` until the turn no longer waits.
std::string compact(const nlohmann::json& value) {
  auto text = hearth::dump_json(value);
  if (text.size() > 400) text = text.substr(0, 400) + "…";
  return text;
}

/// One answer for `request`, or nullopt at EOF. `always`: tools approved for the session.
std::optional<nlohmann::json> ask_user(LineReader& reader, const nlohmann::json& request,
                                       std::set<std::string>& always) {
  const auto tool = request.value("toolName", "");
  if (request.value("kind", "") == "question") {
    std::cerr << "? " << request.value("prompt", "") << '\n';
    for (const auto& o : request.value("options", nlohmann::json::array()))
      std::cerr << "  - " << o.value("label", "") << ": " << o.value("description", "") << '\n';
    std::cerr << std::flush;
    const auto line = reader.next();
    if (!line) return std::nullopt;
    return nlohmann::json{{"requestId", request.value("requestId", "")}, {"answer", *line}};
  }
  const auto id = request.value("approvalId", "");
  if (always.count(tool)) return nlohmann::json{{"requestId", id}, {"decision", "approve"}};
  for (;;) {
    std::cerr << "Approve " << tool << " " << compact(request.value("args", nlohmann::json::object()))
              << "? [y/n/a(lways)] " << std::flush;
    const auto line = reader.next();
    if (!line) return std::nullopt;
    const auto answer = line->empty() ? std::string() : std::string(1, static_cast<char>(std::tolower(
                                                             static_cast<unsigned char>((*line)[0]))));
    if (answer == "a") always.insert(tool);
    if (answer == "y" || answer == "a") return nlohmann::json{{"requestId", id}, {"decision", "approve"}};
    if (answer == "n")
      return nlohmann::json{{"requestId", id}, {"decision", "deny"}, {"reason", "denied at the prompt"}};
    std::cerr << "Answer y (approve), n (deny) or a (approve " << tool << " for this session).\n";
  }
}

/// The session's runtime: open_runtime's, and when that was the warm runtime and its connection
/// ended between prompts (dev reloaded: the old generation closes its connections), the next
/// request opens a runtime again (docs/ipc.md "Warm runtime"). The history is in the store.
class SessionLink : public runtime::Link {
public:
  SessionLink(const config::Project& project, const config::ProjectFlags& flags)
      : m_project(project), m_flags(flags), m_link(open_runtime(project, flags)) {}

  void wait_ready(std::chrono::milliseconds timeout = runtime::k_ready_timeout) override {
    current().wait_ready(timeout);
  }

  nlohmann::json request(const std::string& method, const nlohmann::json& params,
                         const std::function<void(const nlohmann::json&)>& on_event) override {
    runtime::Link* link = nullptr;
    {
      std::lock_guard lock(m_mutex);
      if (!m_killed && m_link->lost() && dynamic_cast<runtime::WarmClient*>(m_link.get())) {
        terminal::info("the dev server reloaded; reconnecting");
        auto next = open_runtime(m_project, m_flags);
        next->wait_ready();
        m_link = std::move(next);
      }
      link = m_link.get(); // replaced only here, on this thread: valid for the call
    }
    return link->request(method, params, on_event);
  }

  bool notify(const std::string& method, const nlohmann::json& params) override {
    std::lock_guard lock(m_mutex); // never blocks: the peer queues it
    return m_link->notify(method, params);
  }

  void kill() override {
    std::lock_guard lock(m_mutex);
    m_killed = true;
    m_link->kill();
  }

  bool lost() override {
    std::lock_guard lock(m_mutex);
    // A warm connection that ended is not lost for the session: the next request reconnects.
    return m_link->lost() && (m_killed || !dynamic_cast<runtime::WarmClient*>(m_link.get()));
  }

private:
  runtime::Link& current() {
    std::lock_guard lock(m_mutex);
    return *m_link;
  }

  config::Project m_project;
  config::ProjectFlags m_flags;
  std::mutex m_mutex;
  std::unique_ptr<runtime::Link> m_link;
  bool m_killed = false;
};

int connect(const ConnectOptions& opts) {
  const auto project = resolve_project(opts.project);
  const auto compiled = compile_reporting(project, /*quiet=*/true);
  if (!compiled) return exit_code(ExitCode::failure);
  // An unknown agent can never succeed: refuse it before starting anything (Flue's
  // "Connection error" exits 1 too).
  std::vector<std::string> agents;
  for (const auto& a : compiled->manifest.value("agents", nlohmann::json::array()))
    agents.push_back(a.value("name", ""));
  if (std::find(agents.begin(), agents.end(), opts.agent) == agents.end())
    throw errors::agent_not_found(opts.agent, agents);
  // The warm runtime of a `hearth dev` of this project when it is the same, else a child.
  SessionLink child(project, opts.project);
  LineReader reader("› ");
  // Ctrl-C during a turn cancels that turn (agent.cancel; the prompt comes back). A second Ctrl-C,
  // one at an idle prompt, or SIGTERM stops the runtime and exits 128+signo.
  std::atomic<bool> in_turn{false}, cancelling{false};
  InterruptWatcher interrupts(
      [&child, &reader](int) {
        child.kill();
        reader.interrupt();
      },
      [&](int signo) {
        if (signo != SIGINT || !in_turn || cancelling.exchange(true)) return false;
        child.notify("agent.cancel", {{"agent", opts.agent}, {"instanceId", opts.instance_id}});
        terminal::warn("cancelling the turn (Ctrl-C again to exit)");
        return true;
      });
  try {
    child.wait_ready();
    terminal::info("connected to " + opts.agent + "/" + opts.instance_id +
                   (opts.session == "default" ? "" : " (session " + opts.session + ")") +
                   ". Enter a prompt per line; Ctrl-D to exit.");
    std::set<std::string> always; // approvals: `a` at an approval prompt
    while (const auto line = reader.next()) {
      if (line->find_first_not_of(" \t\r") == std::string::npos) continue;
      EventPrinter printer(std::cerr);
      // /compact and /clear (issue 16 §1, docs/sessions.md): the session's context, not a prompt.
      if (*line == "/compact" || *line == "/clear") {
        nlohmann::json params = {{"agent", opts.agent}, {"instanceId", opts.instance_id},
                                 {"session", opts.session}, {"clear", *line == "/clear"},
                                 {"invoker", local_invoker()}, {"eventTypes", printer.types()}};
        if (!opts.profile.empty()) params["context"] = profile_context(opts.profile);
        try {
          const auto reply = child.request("agent.compact", params,
                                           [&](const nlohmann::json& e) { printer.print(e); });
          printer.flush();
          std::cout << hearth::dump_json(reply.value("result", nlohmann::json()), 2) << '\n'
                    << std::flush;
        } catch (const Error& e) {
          printer.flush();
          if (interrupts.signal() || child.lost()) throw;
          terminal::print_error(e.info()); // e.g. nothing to compact yet: the session stays open
        }
        continue;
      }
      nlohmann::json params = {{"agent", opts.agent}, {"instanceId", opts.instance_id},
                               {"session", opts.session}, {"message", *line}};
      if (!opts.model.empty()) params["model"] = opts.model;
      params["invoker"] = local_invoker();
      params["eventTypes"] = printer.types();
      if (!opts.profile.empty()) params["context"] = profile_context(opts.profile);
      in_turn = true;
      try {
        auto reply = child.request("agent.prompt", params,
                                   [&](const nlohmann::json& e) { printer.print(e); });
        in_turn = false;
        printer.flush();
        auto result = reply.value("result", nlohmann::json());
        while (result.is_object() && result.value("status", "") == "waiting") {
          nlohmann::json responses = nlohmann::json::array();
          for (const auto& request : result.value("requests", nlohmann::json::array()))
            if (auto answer = ask_user(reader, request, always)) responses.push_back(*answer);
            else return exit_code(ExitCode::ok); // EOF: the turn stays parked, durably
          nlohmann::json respond = {{"agent", opts.agent}, {"instanceId", opts.instance_id},
                                    {"session", opts.session}, {"responses", responses},
                                    {"invoker", local_invoker()}, {"eventTypes", printer.types()}};
          in_turn = true; // the resumed turn: Ctrl-C cancels it as well
          reply = child.request("input.respond", respond,
                                [&](const nlohmann::json& e) { printer.print(e); });
          in_turn = false;
          printer.flush();
          result = reply.value("result", nlohmann::json());
        }
        std::cout << hearth::dump_json(result, 2) << '\n' << std::flush;
      } catch (const Error& e) {
        in_turn = false;
        printer.flush();
        if (interrupts.signal() || child.lost()) throw;
        if (e.info().type == "cancelled") terminal::warn("turn cancelled");
        else terminal::print_error(e.info()); // a failed prompt keeps the session open
      }
      cancelling = false;
    }
    if (const auto code = interrupts.exit_code()) return *code; // Ctrl-C at the prompt
    return exit_code(ExitCode::ok);
  } catch (const Error&) {
    if (const auto code = interrupts.exit_code()) return *code;
    throw;
  }
}

} // namespace

void register_connect(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<ConnectOptions>();
  auto* cmd = app.add_subcommand("connect", "Talk to one agent instance, a prompt per line");
  set_completion(cmd->add_option("agent", opts->agent, "Agent name")->required(), "agents");
  cmd->add_option("instance-id", opts->instance_id, "Instance id (e.g. local or a thread id)")
      ->required();
  cmd->add_option("--session", opts->session, "Session name within the instance (default: default)");
  cmd->add_option("--model", opts->model, "Use this provider/model (e.g. mock/echo)");
  cmd->add_option("--profile", opts->profile,
                  "Invoke as this agent.json invoker profile (invoker.profiles[].id)");
  add_project_flags(*cmd, opts->project);
  add_target_flag(*cmd);
  cmd->footer("With `hearth dev` of the project running, the session uses its warm runtime when it "
              "is the same as a runtime of its own would be, else starts one. HEARTH_NO_WARM=1: "
              "always start one; HEARTH_DEBUG_WARM=1: say which and why (docs/ipc.md \"Warm "
              "runtime\").");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return connect(*opts); }; });
}

} // namespace hearth::cli

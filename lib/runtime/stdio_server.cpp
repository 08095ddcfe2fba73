// The runtime child's stdio server; see stdio_server.hpp.
#include "runtime/stdio_server.hpp"

#include "core/errors.hpp"
#include "core/signals.hpp"
#include "ipc/peer.hpp"
#include "runtime/access.hpp"
#include "store/store.hpp"

#include "core/process.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>

namespace hearth::runtime {
namespace {
using nlohmann::json;

std::string required_string(const json& params, const char* key) {
  if (!params.is_object() || !params.contains(key) || !params[key].is_string())
    throw errors::usage(std::string("`") + key + "` must be a string.", "See docs/ipc.md.");
  return params[key].get<std::string>();
}

} // namespace

int serve_stdio(Runtime& runtime) {
  signals::SignalPipe signal_pipe;
  ipc::PeerOptions options;
  options.name = "the CLI";
  // The protocol gets a private copy of stdout; fd 1 then points at stderr, so a stray write to
  // stdout from anywhere in the process lands in the log instead of corrupting the protocol.
  // CLOEXEC: a tool or script must not inherit the pipe, or the CLI would miss our EOF.
  const int protocol_out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  ipc::Peer peer(STDIN_FILENO, protocol_out, options);

  peer.on_request("workflow.run", [&](const ipc::Request& request) {
    const auto name = required_string(request.params, "workflow");
    const json payload = request.params.value("payload", json::object());
    const auto model = request.params.value("model", std::string());
    const auto timeout_ms = request.params.value("timeoutMs", 0); // programmable workflows
    // The CLI is the local user, trusted to select profiles (docs/auth.md "Profiles and resolve").
    const auto run_id = runtime.admit_run(name, payload, request.params.value("invoker", json()),
                                          request.params.value("context", json()), true);
    // approvals: `hearth run --approve/--deny` decide the run's Approval Requests; with neither,
    // the first one fails the run (approval_required).
    std::vector<std::string> approve, deny;
    for (const auto& [key, list] : {std::pair{"approve", &approve}, std::pair{"deny", &deny}})
      if (request.params.contains(key) && request.params[key].is_array())
        for (const auto& item : request.params[key])
          if (item.is_string()) list->push_back(item.get<std::string>());
    runtime.set_run_approvals(run_id, std::move(approve), std::move(deny));
    const auto result = runtime.execute_run(
        run_id, model,
        [&](const json& event) { peer.notify_tagged(request.id, "event", {{"event", event}}); },
        timeout_ms);
    return json{{"runId", run_id}, {"result", result}};
  });
  peer.on_request("agent.prompt", [&](const ipc::Request& request) {
    const auto agent = required_string(request.params, "agent");
    const auto& def = runtime.agent(agent); // throws agent_not_found
    // Profiles (the CLI may select them: it is the local user) and invoker.resolve, as over HTTP.
    const auto invocation = resolve_invocation(
        def.invoker, def.directory, request.params.value("invoker", json()),
        request.params.value("context", json()), true, "agent \"" + agent + "\"");
    const auto result = runtime.prompt_agent(
        agent, required_string(request.params, "instanceId"),
        request.params.value("session", std::string("default")),
        required_string(request.params, "message"), request.params.value("outputSchema", json()),
        request.params.value("model", std::string()), [&](const json& event) {
          peer.notify_tagged(request.id, "event", {{"event", event}});
        },
        invocation.invoker, invocation.context);
    return json{{"result", result}};
  });
  // compaction (issue 16 §1): `hearth connect` /compact and /clear.
  peer.on_request("agent.compact", [&](const ipc::Request& request) {
    const auto agent = required_string(request.params, "agent");
    const auto& def = runtime.agent(agent); // throws agent_not_found
    const auto invocation = resolve_invocation(
        def.invoker, def.directory, request.params.value("invoker", json()),
        request.params.value("context", json()), true, "agent \"" + agent + "\"");
    const auto result = runtime.compact_session(
        agent, required_string(request.params, "instanceId"),
        request.params.value("session", std::string("default")),
        request.params.value("clear", false),
        [&](const json& event) { peer.notify_tagged(request.id, "event", {{"event", event}}); },
        invocation.invoker);
    return json{{"result", result}};
  });
  // approvals: answers to a parked session's requests (hearth connect), then the resumed turn.
  peer.on_request("input.respond", [&](const ipc::Request& request) {
    const auto agent = required_string(request.params, "agent");
    const auto instance = required_string(request.params, "instanceId");
    const auto session = request.params.value("session", std::string("default"));
    const auto invoker = request.params.value("invoker", json());
    const auto owner = Runtime::agent_stream(agent, instance);
    for (const auto& r : request.params.value("responses", json::array())) {
      if (!r.is_object()) continue;
      InputAnswer answer{.request_id = r.value("requestId", ""), .decision = r.value("decision", ""),
                         .reason = r.value("reason", ""), .answer = r.value("answer", ""),
                         .invoker = invoker};
      runtime.answer_input(owner, answer); // throws approval_not_found / _already_decided
    }
    const auto result = runtime.resume_session(agent, instance, session, [&](const json& event) {
      peer.notify_tagged(request.id, "event", {{"event", event}});
    }, invoker);
    return json{{"result", result}};
  });
  // `hearth connect`'s Ctrl-C: cancel the instance's running turn (docs/ipc.md). Its
  // agent.prompt then fails with type `cancelled`. A notification: nothing waits on it.
  peer.on_notification("agent.cancel", [&](const ipc::Notification& n) {
    const auto& p = n.params;
    if (!p.is_object() || !p.contains("agent") || !p["agent"].is_string() ||
        !p.contains("instanceId") || !p["instanceId"].is_string())
      return; // malformed: nothing to cancel
    runtime.cancel_turn(p["agent"].get<std::string>(), p["instanceId"].get<std::string>());
  });
  // Written by `shutdown` so the loop below wakes at once instead of at its next poll.
  const int shutdown_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  peer.on_request("shutdown", [&](const ipc::Request&) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(shutdown_fd, &one, sizeof one);
    return json::object();
  });
  peer.start();
  peer.notify("ready", {{"pid", ::getpid()}, {"version", HEARTH_VERSION}});

  while (!peer.is_closed()) {
    pollfd fds[2] = {{signal_pipe.fd(), POLLIN, 0}, {shutdown_fd, POLLIN, 0}};
    if (::poll(fds, 2, 100) > 0) {
      if (fds[1].revents != 0) break; // the reply is flushed by ~Peer
      if (const auto signo = signal_pipe.take()) {
        // Runs end cancelled before their tools are stopped, so none ends `completed` on the
        // error result of a killed tool. Tools and workflow scripts run in their own process
        // groups: stop them with us (a script gets SIGTERM first, then what is left is killed).
        runtime.cancel_active_runs("The runtime received signal " + std::to_string(*signo) + ".");
        process::stop_all_groups();
        std::cerr << std::flush;
        ::_exit(128 + *signo); // workers may be mid-turn; the store is consistent
      }
    }
  }
  ::close(shutdown_fd);
  if (peer.is_closed() && runtime.active_run_count() > 0) {
    // stdin closed while runs were executing: the CLI that asked for them is gone (killed).
    runtime.cancel_active_runs("The CLI that started the run exited.");
    process::stop_all_groups();
    std::cerr << std::flush;
    ::_exit(0);
  }
  // Run ends the store refused (disk full) get a last try, so they are not left to be
  // recovered as runtime_crashed; any run still executing here ends cancelled.
  runtime.cancel_active_runs("The runtime was shut down.");
  return 0;
}

} // namespace hearth::runtime

// bench_workflow: the ctx protocol's cost per call (docs/workflow-protocol.md). Two views:
//  1. runtime side, in process: WorkflowContext::call for `session.open` (dispatch only), `log`
//     (one committed event) and `session.prompt` on mock/echo (a whole turn, ~15 events);
//  2. round trip from a real python3 script over the pipes (JSON-RPC framing, peer threads, the
//     script's own encode/decode included), timed inside the script.
// Prints figures; asserts nothing. Usage: bench_workflow [calls] [sqlite|memory]
#include "runtime/program_runner.hpp"
#include "runtime/workflow_context.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace hearth::runtime;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

/// A raw protocol client (no helper): N requests of each kind, each timed with perf_counter.
const char* k_script = R"PY(
import json, sys, time
out = sys.stdout
def send(m):
    out.write(json.dumps(m, separators=(",", ":")) + "\n"); out.flush()
def call(i, method, params):
    send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
    reply = json.loads(sys.stdin.readline())
    assert "result" in reply, reply
    return reply["result"]
req = json.loads(sys.stdin.readline())
n = req["params"]["payload"]["calls"]
h = call(1, "agent.init", {})["harness"]
res = {}
for method, params in (("session.open", {"harness": h}),
                       ("log", {"level": "info", "message": "tick"})):
    start = time.perf_counter()
    for i in range(n):
        call(10 + i, method, params)
    res[method] = (time.perf_counter() - start) * 1e6 / n
# Prompts each on a fresh session (opened untimed), so history growth does not skew the figure.
prompts = max(1, n // 10)
sessions = [call(3, "session.open", {"harness": h, "name": f"p{i}"})["session"] for i in range(prompts)]
start = time.perf_counter()
for i, session in enumerate(sessions):
    call(10 + i, "session.prompt", {"session": session, "text": "ping"})
res["session.prompt"] = (time.perf_counter() - start) * 1e6 / prompts
send({"jsonrpc": "2.0", "id": req["id"], "result": res})
)PY";

void report(const char* what, int calls, double seconds) {
  std::printf("%-46s %6d calls  %9.1f us each\n", what, calls, seconds * 1e6 / calls);
}

double time_calls(WorkflowContext& ctx, int calls, const std::string& method, const json& params) {
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) ctx.call(method, params);
  return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 2000;
  const std::string kind = argc > 2 ? argv[2] : "sqlite";
  char tmpl[] = "/tmp/hearth-bench-workflow-XXXXXX";
  const std::filesystem::path root = ::mkdtemp(tmpl);
  std::ofstream(root / "bench.py") << k_script;
  auto store = hearth::store::open_store(kind == "memory" ? "memory:" : "sqlite:store.db", root);
  AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help."};
  WorkflowDef bench{.name = "bench", .kind = WorkflowKind::program, .executable = root / "bench.py",
                    .command = {"python3", (root / "bench.py").string()}};
  Runtime runtime(Program{.root_agent = "assistant", .agents = {agent}, .workflows = {bench}},
                  RuntimeContext{.project_root = root}, *store);
  install_program_runner(runtime);
  std::printf("store: %s, %d calls per method\n\n", kind.c_str(), calls);

  {
    const std::string run_id = "run_bench_in_process";
    store->create_stream("runs/" + run_id);
    EventLog events(*store, "runs/" + run_id);
    WorkflowContext ctx(runtime, run_id, "", events);
    const auto harness = ctx.call("agent.init", json::object())["harness"];
    std::printf("runtime side (WorkflowContext::call, in process)\n");
    report("  session.open (dispatch, no event)", calls,
           time_calls(ctx, calls, "session.open", {{"harness", harness}}));
    report("  log (one committed event)", calls,
           time_calls(ctx, calls, "log", {{"level", "info"}, {"message", "tick"}}));
    // Each prompt on a fresh session (opened untimed), so history growth does not skew it.
    const int prompts = std::max(1, calls / 10);
    std::vector<json> sessions;
    for (int i = 0; i < prompts; ++i)
      sessions.push_back(
          ctx.call("session.open", {{"harness", harness}, {"name", "p" + std::to_string(i)}})["session"]);
    const auto started = Clock::now();
    for (const auto& session : sessions)
      ctx.call("session.prompt", {{"session", session}, {"text", "ping"}});
    report("  session.prompt on mock/echo (a whole turn)", prompts,
           std::chrono::duration<double>(Clock::now() - started).count());
  }

  const auto start = Clock::now();
  const auto outcome = runtime.run_workflow("bench", {{"calls", calls}}, "", {});
  const double whole = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("\nround trip from a python3 script over the pipes (timed in the script)\n");
  for (const auto& [method, us] : outcome.result.items())
    std::printf("  %-44s %6d calls  %9.1f us each\n", method.c_str(),
                method == "session.prompt" ? std::max(1, calls / 10) : calls, us.get<double>());
  std::printf("  %-44s %6.3f s\n", "whole run (spawn, all calls, exit)", whole);
  std::filesystem::remove_all(root);
  return 0;
}

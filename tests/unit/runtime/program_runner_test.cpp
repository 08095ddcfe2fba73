// Programmable workflows end to end in one process: real script processes (python3, bash, node)
// speaking the ctx protocol to a Runtime over a memory store, on mock models.
#include "core/error.hpp"
#include "core/process.hpp"
#include "ipc/rpc.hpp"
#include "runtime/program_runner.hpp"
#include "runtime/workflow_context.hpp"
#include "sandbox/sandbox.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

const std::string k_helpers = std::string(HEARTH_SOURCE_DIR) + "/templates/helpers";

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

bool have(const char* program) {
  return std::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) == 0;
}

/// True once the process group `pgid` has no member left.
bool group_gone(pid_t pgid) { return ::kill(-pgid, 0) != 0 && errno == ESRCH; }

struct Fixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::mutex mutex;
  std::vector<json> events;

  Fixture() {
    project.write("workflows/hearth_workflow.py", slurp(k_helpers + "/hearth_workflow.py"));
    project.write("workflows/hearth-workflow.mjs", slurp(k_helpers + "/hearth-workflow.mjs"));
  }

  /// A program with agent "assistant" (mock/echo, subagent "greeter") and `workflows`.
  Program program(std::vector<WorkflowDef> workflows) {
    AgentDef greeter{.name = "greeter", .description = "Greets.", .model = "mock/echo",
                     .instructions = "Write one warm greeting."};
    AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                   .subagents = {greeter}};
    return Program{.root_agent = "assistant", .agents = {agent}, .workflows = std::move(workflows)};
  }

  /// A program workflow running `file` (relative to the project) with `interpreter`.
  WorkflowDef script(const std::string& name, const std::string& interpreter,
                     const std::string& file, int timeout_ms = 0) {
    const auto path = project.root() / file;
    // Unsandboxed: these tests watch the script's host pid and files (tests/e2e/test_sandbox.py
    // and the bubblewrap case below cover the sandbox).
    WorkflowDef def{.name = name, .kind = WorkflowKind::program, .executable = path,
                    .command = {interpreter, path.string()}, .timeout_ms = timeout_ms};
    def.sandbox.backend = "none";
    return def;
  }

  std::unique_ptr<Runtime> runtime(Program p) {
    auto rt = std::make_unique<Runtime>(std::move(p),
                                        RuntimeContext{.project_root = project.root()}, *store);
    install_program_runner(*rt);
    return rt;
  }

  EventListener listener() {
    return [this](const json& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
  }

  std::vector<json> of_type(const std::string& type) {
    std::lock_guard lock(mutex);
    std::vector<json> out;
    for (const auto& e : events)
      if (e["type"] == type) out.push_back(e);
    return out;
  }

  /// Runs `name` expecting failure; returns the error.
  hearth::ErrorInfo fail(Runtime& rt, const std::string& name, json payload = json::object()) {
    try {
      rt.run_workflow(name, payload, "", listener());
    } catch (const hearth::Error& e) {
      return e.info();
    }
    FAIL("the run should have failed");
    return {};
  }

  /// The pid a failure script wrote to `pid` in the project root.
  pid_t script_pid() { return static_cast<pid_t>(std::stol(slurp(project.root() / "pid"))); }
};

const char* k_greet_py = R"PY(
import sys
from hearth_workflow import workflow

@workflow
def run(ctx):
    harness = ctx.init(agent="assistant")
    session = harness.session()
    res = session.prompt(f"Hello, {ctx.payload.get('name', 'Developer')}!",
                         result={"type": "object", "properties": {"greeting": {"type": "string"}},
                                 "required": ["greeting"]})
    again = session.prompt("And once more.")
    task = session.task("Greet the user.", agent="greeter")
    out = harness.shell("echo from-shell; echo $HEARTH_RUN_ID")
    harness.fs.write("notes/a.txt", "kept")
    print("to stderr, not the protocol")
    ctx.log.info("greeting complete", {"length": len(res.data["greeting"])})
    return {"greeting": res.data["greeting"], "again": again.text, "task": task.text,
            "shell": out["stdout"], "file": harness.fs.read("notes/a.txt")}
)PY";

} // namespace

TEST_SUITE("runtime") {
  TEST_CASE("a Python workflow prompts, delegates, runs a shell and logs through the helper") {
    Fixture f;
    f.project.write("workflows/greet.py", k_greet_py);
    const auto rt = f.runtime(f.program({f.script("greet", "python3", "workflows/greet.py")}));
    const auto outcome = rt->run_workflow("greet", {{"name", "World"}}, "", f.listener());
    const auto& r = outcome.result;
    CHECK(r["greeting"].is_string());
    CHECK(r["again"] == "And once more.");
    CHECK(r["task"] == "Greet the user.");
    CHECK(r["shell"] == "from-shell\n" + outcome.run_id + "\n");
    CHECK(r["file"] == "kept");
    const auto ops = f.of_type("operation");
    REQUIRE(ops.size() == 4);
    CHECK(ops[0]["operationKind"] == "prompt");
    CHECK(ops[1]["operationKind"] == "prompt");
    CHECK(ops[2]["operationKind"] == "task");
    CHECK(ops[3]["operationKind"] == "shell");
    CHECK(f.of_type("task_start").size() == 1);
    CHECK(f.of_type("tool_call").size() >= 1); // the structured result's finish call
    // The second prompt continued the first one's conversation.
    const auto ends = f.of_type("agent_end");
    REQUIRE(ends.size() == 3);
    CHECK(ends[1]["messages"].size() > ends[0]["messages"].size());
    bool info = false, warn = false;
    for (const auto& log : f.of_type("log")) {
      info |= log["level"] == "info" && log["message"] == "greeting complete" &&
              log["attributes"]["length"].is_number();
      warn |= log["level"] == "warn" && log["message"] == "to stderr, not the protocol";
    }
    CHECK(info);
    CHECK(warn);
    CHECK(f.events.front()["type"] == "run_start");
    CHECK(f.events.back()["type"] == "run_end");
    const auto run = f.store->get_run(outcome.run_id);
    REQUIRE(run);
    CHECK(run->status == hearth::store::RunStatus::completed);
    CHECK(run->result == outcome.result);
  }

  TEST_CASE("the script's environment has the protocol variables and no provider keys") {
    Fixture f;
    ::setenv("OPENAI_API_KEY", "sk-secret", 1);
    f.project.write("workflows/env.py",
                    "import os\nfrom hearth_workflow import workflow\n@workflow\n"
                    "def run(ctx):\n    return {k: os.environ.get(k) for k in ['OPENAI_API_KEY',"
                    " 'HEARTH_RUN_ID', 'HEARTH_WORKFLOW', 'HEARTH_PROTOCOL']} | "
                    "{'cwd': os.getcwd(), 'runId': ctx.run_id}\n");
    const auto rt = f.runtime(f.program({f.script("env", "python3", "workflows/env.py")}));
    const auto outcome = rt->run_workflow("env", json::object(), "", f.listener());
    ::unsetenv("OPENAI_API_KEY");
    CHECK(outcome.result["OPENAI_API_KEY"].is_null());
    CHECK(outcome.result["HEARTH_RUN_ID"] == outcome.run_id);
    CHECK(outcome.result["runId"] == outcome.run_id);
    CHECK(outcome.result["HEARTH_WORKFLOW"] == "env");
    CHECK(outcome.result["HEARTH_PROTOCOL"] == "1");
    CHECK(std::filesystem::equivalent(outcome.result["cwd"].get<std::string>(), f.project.root()));
  }

  TEST_CASE("under bubblewrap a script runs as uid 1000, sees its directory, not the project") {
    if (!hearth::sandbox::find_bwrap()) return;
    Fixture f;
    f.project.write(".env", "SECRET=1\n");
    f.project.write("workflows/probe.py",
                    "import os\nfrom hearth_workflow import workflow\n@workflow\n"
                    "def run(ctx):\n    h = ctx.init()\n"
                    "    return {'uid': os.getuid(), 'env': os.path.exists('.env'),"
                    " 'shell': h.shell('pwd; id -u')['stdout']}\n");
    auto def = f.script("probe", "python3", "workflows/probe.py");
    def.sandbox.backend = "";
    const auto rt = f.runtime(f.program({def}));
    const auto outcome = rt->run_workflow("probe", json::object(), "", f.listener());
    CHECK(outcome.result["uid"] == 1000);
    CHECK(outcome.result["env"] == false);
    CHECK(outcome.result["shell"] == "/workspace\n1000\n");
  }

  TEST_CASE("a bash workflow written from the protocol document alone works") {
    Fixture f;
    const auto fixture = std::string(HEARTH_SOURCE_DIR) + "/tests/fixtures/workflows/greet.sh";
    f.project.write("workflows/greet.sh", slurp(fixture));
    const auto rt = f.runtime(f.program({f.script("greet", "bash", "workflows/greet.sh")}));
    const auto outcome = rt->run_workflow("greet", {{"name", "World"}}, "", f.listener());
    CHECK(outcome.result == json{{"greeting", "Hello, World!"}});
    CHECK(f.of_type("operation").size() == 1);
    CHECK(f.of_type("log").size() >= 1);
  }

  TEST_CASE("a Node workflow runs through the .mjs helper") {
    if (!have("node")) {
      MESSAGE("skipped: node is not installed");
      return;
    }
    Fixture f;
    f.project.write("workflows/greet.mjs",
                    "import { workflow } from './hearth-workflow.mjs';\n"
                    "export const run = workflow(async (ctx) => {\n"
                    "  const harness = await ctx.init({ agent: 'assistant' });\n"
                    "  const session = await harness.session();\n"
                    "  const res = await session.prompt(`Hello, ${ctx.payload.name}!`);\n"
                    "  const sh = await harness.shell('echo hi');\n"
                    "  console.log('noise');\n"
                    "  ctx.log.info('done', { length: res.text.length });\n"
                    "  return { greeting: res.text, shell: sh.stdout };\n"
                    "});\n");
    const auto rt = f.runtime(f.program({f.script("greet", "node", "workflows/greet.mjs")}));
    const auto outcome = rt->run_workflow("greet", {{"name", "World"}}, "", f.listener());
    CHECK(outcome.result == json{{"greeting", "Hello, World!"}, {"shell", "hi\n"}});
    CHECK(f.of_type("operation").size() == 2);
  }

  TEST_CASE("a script that crashes errors the run with its exit code and stderr tail") {
    Fixture f;
    f.project.write("workflows/crash.sh",
                    "echo $$ > pid\nread -r line\nfor i in $(seq 1 30); do echo \"err $i\" >&2; done\n"
                    "exit 3\n");
    const auto rt = f.runtime(f.program({f.script("crash", "bash", "workflows/crash.sh")}));
    const auto error = f.fail(*rt, "crash");
    CHECK(error.type == "workflow_script_exited");
    CHECK(error.message.find("exit code 3") != std::string::npos);
    CHECK(error.details.find("err 30") != std::string::npos);
    CHECK(error.details.find("err 11\n") != std::string::npos);
    CHECK(error.details.find("err 10\n") == std::string::npos); // only the last 20 lines
    CHECK(group_gone(f.script_pid()));
    CHECK(f.of_type("run_end").at(0)["isError"] == true);
  }

  TEST_CASE("a script that never replies but exits errors the run as exited") {
    Fixture f;
    f.project.write("workflows/silent.sh", "echo $$ > pid\nread -r line\nexit 0\n");
    const auto rt = f.runtime(f.program({f.script("silent", "bash", "workflows/silent.sh")}));
    const auto error = f.fail(*rt, "silent");
    CHECK(error.type == "workflow_script_exited");
    CHECK(error.message.find("exit code 0 before replying") != std::string::npos);
    CHECK(group_gone(f.script_pid()));
  }

  TEST_CASE("a script that closes stdout and keeps running is stopped") {
    Fixture f;
    f.project.write("workflows/closer.sh", "echo $$ > pid\nexec 1>&-\nsleep 97\n");
    const auto rt = f.runtime(f.program({f.script("closer", "bash", "workflows/closer.sh")}));
    const auto error = f.fail(*rt, "closer");
    CHECK(error.type == "workflow_script_exited");
    CHECK(error.message.find("stdout closed") != std::string::npos);
    CHECK(group_gone(f.script_pid()));
  }

  TEST_CASE("a script that hangs past its timeout is killed with its whole group") {
    Fixture f;
    f.project.write("workflows/hang.sh", "echo $$ > pid\nsleep 97 &\nsleep 97\n");
    const auto rt = f.runtime(f.program({f.script("hang", "bash", "workflows/hang.sh", 300)}));
    const auto started = std::chrono::steady_clock::now();
    const auto error = f.fail(*rt, "hang");
    CHECK(error.type == "workflow_timeout");
    CHECK(error.message.find("300 ms") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
    CHECK(group_gone(f.script_pid()));
  }

  TEST_CASE("garbage on stdout is a protocol error that quotes the line") {
    Fixture f;
    f.project.write("workflows/garbage.sh", "echo $$ > pid\necho 'hello, I am not JSON'\nsleep 97\n");
    const auto rt = f.runtime(f.program({f.script("garbage", "bash", "workflows/garbage.sh")}));
    const auto error = f.fail(*rt, "garbage");
    CHECK(error.type == "workflow_protocol_error");
    CHECK(error.message.find("hello, I am not JSON") != std::string::npos);
    CHECK(group_gone(f.script_pid()));
  }

  TEST_CASE("an unknown method gets a JSON-RPC error and, uncaught, fails the run naming it") {
    Fixture f;
    f.project.write("workflows/unknown.py",
                    "import os\nfrom hearth_workflow import workflow\n@workflow\ndef run(ctx):\n"
                    "    open('pid', 'w').write(str(os.getpid()))\n"
                    "    return ctx.call('session.teleport', {})\n");
    const auto rt = f.runtime(f.program({f.script("unknown", "python3", "workflows/unknown.py")}));
    const auto error = f.fail(*rt, "unknown");
    CHECK(error.type == "workflow_failed");
    CHECK(error.message.find("Method not found: session.teleport") != std::string::npos);
    CHECK(group_gone(f.script_pid()));
  }

  TEST_CASE("a script exception fails the run with its traceback; a ctx error keeps its type") {
    Fixture f;
    f.project.write("workflows/raise.py",
                    "from hearth_workflow import workflow\n@workflow\ndef run(ctx):\n"
                    "    raise ValueError('bad input')\n");
    f.project.write("workflows/passon.py",
                    "from hearth_workflow import workflow\n@workflow\ndef run(ctx):\n"
                    "    ctx.init(agent='nobody')\n");
    const auto rt = f.runtime(f.program({f.script("raise", "python3", "workflows/raise.py"),
                                   f.script("passon", "python3", "workflows/passon.py")}));
    const auto raised = f.fail(*rt, "raise");
    CHECK(raised.type == "workflow_failed");
    CHECK(raised.message == "Workflow \"raise\" failed: ValueError: bad input");
    CHECK(raised.details.find("Traceback") != std::string::npos);
    const auto passed = f.fail(*rt, "passon");
    CHECK(passed.type == "agent_not_found");
  }

  TEST_CASE("a script stopped from outside (the cancel path) errors the run, no group left") {
    Fixture f;
    f.project.write("workflows/wait.sh", "sleep 97 &\necho $$ > pid.tmp\nmv pid.tmp pid\nwait\n");
    const auto rt = f.runtime(f.program({f.script("wait", "bash", "workflows/wait.sh")}));
    std::optional<hearth::ErrorInfo> error;
    std::thread runner([&] { error = f.fail(*rt, "wait"); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!std::filesystem::exists(f.project.root() / "pid") &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    hearth::process::signal_all_groups(SIGTERM); // what the runtime child does on a signal
    runner.join();
    REQUIRE(error);
    CHECK(error->type == "workflow_script_exited");
    CHECK(error->message.find("signal 15") != std::string::npos);
    CHECK(group_gone(f.script_pid()));
  }

  TEST_CASE("ctx calls with bad params or unknown and closed handles get clear JSON-RPC errors") {
    Fixture f;
    const auto rt = f.runtime(f.program({}));
    const auto run_id = std::string("run_test");
    f.store->create_stream("runs/" + run_id);
    EventLog events(*f.store, "runs/" + run_id);
    WorkflowContext ctx(*rt, run_id, "", events);
    const auto rpc_error = [&](const std::string& method, const json& params) {
      try {
        ctx.call(method, params);
      } catch (const hearth::ipc::RpcError& e) {
        return std::make_pair(e.code(), std::string(e.what()));
      }
      FAIL("expected an RpcError from " << method);
      return std::make_pair(0, std::string());
    };
    CHECK(rpc_error("nope", json::object()).first == hearth::ipc::code::method_not_found);
    auto [code, message] = rpc_error("session.prompt", {{"session", "s9"}, {"text", "hi"}});
    CHECK(code == hearth::ipc::code::invalid_params);
    CHECK(message.find("Unknown session handle \"s9\"") != std::string::npos);
    const auto harness = ctx.call("agent.init", json::object());
    CHECK(harness["agent"] == "assistant");
    CHECK(rpc_error("agent.init", json::object()).second.find("already initialized") !=
          std::string::npos);
    const auto session = ctx.call("session.open", {{"harness", harness["harness"]}});
    CHECK(rpc_error("session.prompt", {{"session", session["session"]}}).second ==
          "Invalid params for `session.prompt`: `text` is required.");
    CHECK(rpc_error("session.prompt", {{"session", session["session"]}, {"text", 5}}).second ==
          "Invalid params for `session.prompt`: `text` must be a string.");
    CHECK(rpc_error("log", {{"level", "loud"}, {"message", "x"}}).first ==
          hearth::ipc::code::invalid_params);
    CHECK(rpc_error("shell", {{"harness", harness["harness"]}, {"command", "true"},
                              {"timeoutMs", -1}})
              .first == hearth::ipc::code::invalid_params);
    CHECK_THROWS_AS(ctx.call("fs.read", {{"harness", harness["harness"]}, {"path", "../../x"}}),
                    hearth::Error);
    ctx.call("session.close", {{"session", session["session"]}});
    CHECK(rpc_error("session.prompt", {{"session", session["session"]}, {"text", "hi"}})
              .second.find("is closed") != std::string::npos);
    // Reopening the name starts a fresh conversation under a new handle.
    CHECK(ctx.call("session.open", {{"harness", harness["harness"]}})["session"] !=
          session["session"]);
  }
}

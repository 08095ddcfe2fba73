// `hearth connections list [--agent A] [--json]` starts each MCP connection of the project and
// prints its state and tools; `hearth connections call <connection> <tool> --args JSON [--agent A]`
// calls one tool and prints the MCP result: debugging connections without a model (issue 13 §3,
// docs/mcp.md "Connections (client)"). Every server is stopped before the command returns.
#include "cli/commands/commands.hpp"
#include "cli/compile_report.hpp"
#include "cli/terminal.hpp"
#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/text.hpp"
#include "mcp/connection_tools.hpp"
#include "runtime/program.hpp"
#include "store/store.hpp"

#include <iostream>

namespace hearth::cli {
namespace {
using nlohmann::json;

struct ConnectionsOptions {
  std::string agent{};
  bool json = false;
  std::string connection{};
  std::string tool{};
  std::string args = "{}";
  config::ProjectFlags project{};
};

/// The compiled program and a pool over its connections (null when there are none).
struct Loaded {
  runtime::Program program{};
  std::unique_ptr<store::Store> store{}; // OAuth tokens (outlives the pool, declared before it)
  std::shared_ptr<mcp::Pool> pool{};
};

std::optional<Loaded> load(const ConnectionsOptions& opts) {
  const auto project = resolve_project(opts.project);
  const auto result = compile_reporting(project, true);
  if (!result) return std::nullopt;
  Loaded loaded{.program = runtime::load_program(result->manifest, project.root)};
  // The project's store: a connection signed in by a session (or an earlier call) is reused.
  loaded.store = store::open_store(project.store.location(), project.root);
  loaded.pool = mcp::make_pool(loaded.program.agents, project.root, false,
                               [](const std::string& line) { terminal::warn(line); },
                               mcp::store_credentials(*loaded.store, {}, project.state_dir / "credentials.key"));
  return loaded;
}

std::string agent_or_root(const ConnectionsOptions& opts, const runtime::Program& program) {
  return opts.agent.empty() ? program.root_agent : opts.agent;
}

/// A server-supplied value for the terminal: a string without control characters (an escape
/// sequence could rewrite the screen), "" for anything else.
std::string printable(const json& v, std::size_t max = 200) {
  if (!v.is_string()) return {};
  std::string out;
  for (const unsigned char c : text::to_utf8(v.get_ref<const std::string&>())) {
    if (out.size() >= max) break;
    if (c < 0x20 || c == 0x7f) continue;
    out += static_cast<char>(c);
  }
  return out;
}

int run_list(const ConnectionsOptions& opts) {
  auto loaded = load(opts);
  if (!loaded) return exit_code(ExitCode::failure);
  json out = json::array();
  bool failed = false;
  if (loaded->pool) {
    std::vector<const mcp::ConnectionConfig*> configs; // every agent's, subagents' too
    for (const auto& s : loaded->pool->state(opts.agent))
      configs.push_back(&loaded->pool->config(s["agentId"].get<std::string>(), s["name"].get<std::string>()));
    for (const auto* c : configs) {
      json tools = json::array();
      std::string error;
      try {
        for (const auto& t : loaded->pool->tools(mcp::agent_key(c->agent, c->agent_id), c->name))
          tools.push_back({{"name", t.name},
                           {"toolName", mcp::tool_name(c->name, t.name, c->tool_prefix)},
                           {"description", t.description},
                           {"inputSchema", t.input_schema}});
      } catch (const Error& e) {
        error = e.info().message;
        failed = true;
      }
      json state;
      for (const auto& s : loaded->pool->state(mcp::agent_key(c->agent, c->agent_id)))
        if (s["name"] == c->name) state = s;
      state.erase("agentId");
      state["toolList"] = tools;
      if (!error.empty()) state["error"] = error;
      out.push_back(std::move(state));
    }
    loaded->pool->shutdown();
  }
  if (opts.json) {
    std::cout << dump_json(out, 2) << '\n';
  } else if (out.empty()) {
    std::cout << "No connections (agent/connections/<name>.json).\n";
  } else {
    for (const auto& c : out) {
      std::cout << printable(c.value("agent", json())) << "/" << printable(c.value("name", json())) << "  "
                << printable(c.value("transport", json())) << "  " << printable(c.value("state", json()));
      if (c.contains("server") && c["server"].is_object())
        std::cout << "  " << printable(c["server"].value("name", json())) << " "
                  << printable(c["server"].value("version", json()));
      if (c.contains("protocolVersion")) std::cout << "  (MCP " << printable(c["protocolVersion"]) << ")";
      std::cout << '\n';
      if (c.contains("error")) std::cout << "  error: " << printable(c["error"], 4096) << '\n';
      for (const auto& t : c["toolList"]) {
        auto desc = t.value("description", json()).is_string() ? t["description"].get<std::string>() : "";
        if (const auto nl = desc.find('\n'); nl != std::string::npos) desc.resize(nl);
        desc = printable(json(desc), 80);
        if (desc.size() >= 80) desc = desc.substr(0, 77) + "...";
        std::cout << "  " << printable(t.value("toolName", json())) << (desc.empty() ? "" : "  " + desc) << '\n';
      }
    }
  }
  return exit_code(failed ? ExitCode::failure : ExitCode::ok);
}

int run_call(const ConnectionsOptions& opts) {
  const json args = parse_json_or_discarded(opts.args);
  if (args.is_discarded() || !args.is_object())
    throw errors::usage("--args must be a JSON object, e.g. --args '{\"x\": 1}'",
                        "hearth connections call <connection> <tool> --args JSON");
  auto loaded = load(opts);
  if (!loaded) return exit_code(ExitCode::failure);
  const auto name = agent_or_root(opts, loaded->program);
  if (!loaded->pool) throw errors::mcp_connection_not_found(name, opts.connection, {});
  const auto agent = loaded->pool->agent_id(name);
  json result;
  try {
    result = loaded->pool->call(agent, opts.connection, opts.tool, args);
  } catch (...) {
    loaded->pool->shutdown();
    throw;
  }
  loaded->pool->shutdown();
  const auto outcome = mcp::outcome_of(opts.connection, opts.tool, result);
  if (opts.json) std::cout << dump_json(result, 2) << '\n';
  else std::cout << outcome.text << '\n';
  return exit_code(outcome.is_error ? ExitCode::failure : ExitCode::ok);
}

} // namespace

void register_connections(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<ConnectionsOptions>();
  auto* cmd = app.add_subcommand("connections", "Start MCP connections, list their tools, call one");
  cmd->require_subcommand(1);
  auto* list = cmd->add_subcommand("list", "Start each connection and print its state and tools");
  list->add_option("--agent", opts->agent, "Only this agent's connections (default: all)");
  list->add_flag("--json", opts->json, "Print JSON on stdout");
  add_project_flags(*list, opts->project);
  list->callback([&dispatch, opts] { dispatch.run = [opts] { return run_list(*opts); }; });
  auto* call = cmd->add_subcommand("call", "Call one tool of a connection and print its result");
  call->add_option("connection", opts->connection, "The connection (agent/connections/<name>.json)")
      ->required();
  call->add_option("tool", opts->tool, "The tool's name as the server lists it")->required();
  call->add_option("--args", opts->args, "The tool's arguments as a JSON object (default {})");
  call->add_option("--agent", opts->agent, "The agent owning the connection (default: the root agent)");
  call->add_flag("--json", opts->json, "Print the MCP result as JSON");
  add_project_flags(*call, opts->project);
  call->callback([&dispatch, opts] { dispatch.run = [opts] { return run_call(*opts); }; });
}

} // namespace hearth::cli

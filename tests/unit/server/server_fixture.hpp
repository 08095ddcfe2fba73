// A server over a hand-built runtime (memory store, mock models) on a free loopback port, plus
// small HTTP helpers. Shared by the server component tests.
#pragma once

#include "core/error.hpp"
#include "runtime/runtime.hpp"
#include "server/auth/auth.hpp"
#include "server/server.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>

struct ServerFixture {
  TempProject project;
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::unique_ptr<hearth::runtime::Runtime> runtime;
  std::unique_ptr<hearth::server::Server> server;

  explicit ServerFixture(hearth::server::ServerOptions options = {}) {
    if (!options.auth) { // these tests exercise routes, not auth (tests/unit/server/auth_*)
      auto open = std::make_shared<hearth::server::auth::Config>();
      open->insecure_no_auth = true;
      options.auth = open;
    }
    using namespace hearth::runtime;
    AgentDef assistant{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                       .http = true};
    AgentDef hidden{.name = "hidden", .model = "mock/echo", .instructions = "Internal."};
    WorkflowDef hello{.name = "hello",
                      .result = {{"type", "object"},
                                 {"properties", {{"greeting", {{"type", "string"}}}}},
                                 {"required", {"greeting"}}},
                      .body = "Greet {{payload.name}}.",
                      .http = true};
    WorkflowDef boom{.name = "boom", .kind = WorkflowKind::program, .http = true};
    WorkflowDef internal{.name = "internal", .body = "Hi.", .http = false};
    Program program{.root_agent = "assistant", .agents = {assistant, hidden},
                    .workflows = {boom, hello, internal}};
    runtime = std::make_unique<Runtime>(std::move(program),
                                        RuntimeContext{.project_root = project.root()}, *store);
    // A programmable workflow that throws something that is not a hearth::Error.
    runtime->set_program_runner([](const WorkflowDef&, const std::string&, const nlohmann::json&,
                                   const hearth::runtime::ProgramRunOptions&,
                                   EventLog&) -> nlohmann::json {
      throw std::runtime_error("intentional failure");
    });
    options.host = "127.0.0.1";
    options.port = 0;
    server = std::make_unique<hearth::server::Server>(*runtime, options);
    server->start();
  }
  ~ServerFixture() { server->shutdown(std::chrono::seconds(10)); }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server->port());
    c.set_read_timeout(60, 0);
    return c;
  }
};

inline nlohmann::json body_json(const httplib::Result& r) {
  REQUIRE(r);
  return nlohmann::json::parse(r->body);
}

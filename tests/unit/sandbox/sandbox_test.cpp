#include "core/error.hpp"
#include "sandbox/sandbox.hpp"
#include "sandbox/workspace.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

namespace sandbox = hearth::sandbox;
namespace stdfs = std::filesystem;

namespace {

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

bool has_name(const std::vector<std::string>& env, const std::string& name) {
  return std::any_of(env.begin(), env.end(),
                     [&](const std::string& e) { return e.rfind(name + "=", 0) == 0; });
}

sandbox::Policy policy_for(const stdfs::path& workspace, std::string backend) {
  sandbox::Policy policy{.workspace = workspace};
  policy.settings.backend = std::move(backend);
  return policy;
}

} // namespace

TEST_SUITE("sandbox") {
  TEST_CASE("merge: agent settings override the project's; env and reads append") {
    auto s = sandbox::merge({}, {{"network", "allow"}, {"env", {"A"}}, {"limits", {{"cpuSeconds", 5}}}});
    s = sandbox::merge(s, {{"backend", "none"}, {"env", {"B"}}, {"limits", {{"memoryMb", 0}}}});
    CHECK(s.backend == "none");
    CHECK(s.network == sandbox::Network::allow);
    CHECK(s.env == std::vector<std::string>{"A", "B"});
    CHECK(s.limits.cpu_seconds == 5);
    CHECK(s.limits.memory_mb == 0);
    CHECK(s.limits.processes == 256);
    CHECK_THROWS_AS(sandbox::merge({}, {{"network", "sometimes"}}), hearth::Error);
    CHECK_THROWS_AS(sandbox::merge({}, {{"limits", {{"cpuSeconds", -1}}}}), hearth::Error);
    CHECK_THROWS_AS(sandbox::merge({}, {{"env", {"NOT A NAME"}}}), hearth::Error);
    CHECK_THROWS_AS(sandbox::make_backend("docker"), hearth::Error);
    CHECK(sandbox::to_json(s)["limits"]["cpuSeconds"] == 5);
  }

  TEST_CASE("the environment is an allow-list") {
    ::setenv("AWS_SECRET_ACCESS_KEY", "aws-secret", 1);
    ::setenv("HEARTH_INVOKER", "user:1", 1); // per command: hearth's to set, never inherited
    ::setenv("HEARTH_EXTRA", "kept", 1);
    ::setenv("DECLARED_TOKEN", "declared", 1);
    ::setenv("LANG", "C.UTF-8", 1);
    TempProject project;
    auto policy = policy_for(project.root(), "bubblewrap");
    policy.settings.env = {"DECLARED_TOKEN"};
    const auto env = sandbox::environment(
        {.argv = {"true"}, .hearth_env = {"HEARTH_WORKSPACE=/host/path", "HEARTH_RUN_ID=r1"}},
        policy);
    CHECK_FALSE(has_name(env, "AWS_SECRET_ACCESS_KEY"));
    CHECK_FALSE(has_name(env, "HEARTH_INVOKER"));
    CHECK(has(env, "HEARTH_EXTRA=kept"));
    CHECK(has(env, "DECLARED_TOKEN=declared"));
    CHECK(has(env, "HOME=/workspace"));
    CHECK(has(env, "HEARTH_WORKSPACE=/workspace"));
    CHECK(has(env, "HEARTH_RUN_ID=r1"));
    CHECK(has(env, "LANG=C.UTF-8"));
    CHECK(has_name(env, "PATH"));
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("HEARTH_INVOKER");
    ::unsetenv("HEARTH_EXTRA");
    ::unsetenv("DECLARED_TOKEN");
  }

  TEST_CASE("none runs with the allow-list and rlimits; a CPU breach names the limit") {
    TempProject project;
    ::setenv("AWS_SECRET_ACCESS_KEY", "aws-secret", 1);
    auto policy = policy_for(project.root(), "none");
    auto r = sandbox::run({.argv = {"sh", "-c", "echo $AWS_SECRET_ACCESS_KEY; ulimit -n; pwd"},
                           .timeout = std::chrono::seconds(10)},
                          policy);
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    CHECK(r.capture.exit_code == 0);
    CHECK(r.capture.out.find("aws-secret") == std::string::npos);
    CHECK(r.capture.out.find("1024") != std::string::npos);
    CHECK(r.limit.empty());
    policy.settings.limits.cpu_seconds = 1;
    r = sandbox::run({.argv = {"sh", "-c", "while :; do :; done"}, .timeout = std::chrono::seconds(20)},
                     policy);
    INFO("exit " << r.capture.exit_code << " signal " << r.capture.status.signal << " timed out " << r.capture.timed_out);
    CHECK(r.limit == "killed: CPU time limit (1 s) exceeded");
  }

  TEST_CASE("bubblewrap: /workspace is the workspace, the host is not there") {
    if (!sandbox::find_bwrap()) return;
    TempProject project;
    project.write("ws/seed.txt", "seeded\n");
    project.write(".env", "SECRET=1\n");
    auto policy = policy_for(project.root() / "ws", "bubblewrap");
    const auto r = sandbox::run(
        {.argv = {"sh", "-c",
                  "cat /workspace/seed.txt; id -u; pwd; test -e " + (project.root() / ".env").string() +
                      " && echo ENV-VISIBLE; test -e /etc/shadow && echo SHADOW; echo new > out.txt"},
         .timeout = std::chrono::seconds(20)},
        policy);
    CHECK(r.capture.exit_code == 0);
    CHECK(r.capture.out == "seeded\n1000\n/workspace\n");
    CHECK(stdfs::exists(project.root() / "ws" / "out.txt"));
  }

  TEST_CASE("resolve maps /workspace to the workspace root") {
    TempProject project;
    project.write("ws/seed.txt", "x");
    const sandbox::Workspace ws(project.root() / "ws");
    CHECK(ws.resolve("/workspace/seed.txt") == ws.root() / "seed.txt");
    CHECK(ws.resolve("/workspace") == ws.root());
    CHECK(ws.resolve("/workspace/") == ws.root());
    CHECK_THROWS_AS(ws.resolve("/workspace/../etc/passwd"), hearth::Error);
    CHECK_THROWS_AS(ws.resolve("/workspaces/x"), hearth::Error);
  }

  TEST_CASE("bubblewrap under a grant: only the granted subtree is mounted, the rest is not there") {
    if (!sandbox::find_bwrap()) {
      MESSAGE("skipped: bwrap is not installed");
      return;
    }
    TempProject project;
    project.write("ws/customers/acme/notes.txt", "acme\n");
    project.write("ws/customers/globex/secret.txt", "globex\n");
    project.write("ws/top.txt", "top\n");
    sandbox::Workspace ws(project.root() / "ws");
    ws.confine({"customers/acme"});
    auto policy = policy_for({}, "bubblewrap");
    sandbox::use_workspace(policy, ws);
    const auto r = sandbox::run(
        {.argv = {"sh", "-c",
                  "cat customers/acme/notes.txt; ls /workspace; ls /workspace/customers; "
                  "test -e /workspace/customers/globex && echo GLOBEX; "
                  "test -e " + (ws.root() / "customers/globex").string() + " && echo HOST-PATH; "
                  "echo w > customers/acme/out.txt; echo x > /workspace/top2.txt 2>/dev/null || "
                  "echo READ-ONLY"},
         .cwd = ws.root(),
         .timeout = std::chrono::seconds(20)},
        policy);
    INFO(r.capture.err);
    CHECK(r.capture.out == "acme\ncustomers\nacme\nREAD-ONLY\n");
    CHECK(stdfs::exists(ws.root() / "customers/acme/out.txt"));
    CHECK_FALSE(stdfs::exists(ws.root() / "top2.txt"));
  }

  TEST_CASE("none cannot enforce a grant: the command is refused, naming it") {
    TempProject project;
    project.mkdir("ws");
    sandbox::Workspace ws(project.root() / "ws");
    auto policy = policy_for({}, "none");
    sandbox::use_workspace(policy, ws);
    CHECK(sandbox::run({.argv = {"true"}, .timeout = std::chrono::seconds(5)}, policy)
              .capture.exit_code == 0); // grant `all`: runs
    ws.confine({"customers/acme"});
    sandbox::use_workspace(policy, ws);
    CHECK_THROWS_WITH_AS(sandbox::run({.argv = {"true"}, .timeout = std::chrono::seconds(5)}, policy),
                         doctest::Contains("grant (customers/acme) cannot be enforced"),
                         hearth::Error);
  }
}

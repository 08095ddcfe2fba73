// runtime/access: access rules over the invoker, workspace grants and invoker profiles (seed 002).
#include "runtime/access.hpp"
#include "runtime/agent_tools.hpp"
#include "sandbox/sandbox.hpp"

#include "core/error.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

TEST_SUITE("runtime.access") {

TEST_CASE("access rules: kinds, ids (prefix with *) and meta must all hold") {
  const json access = {{"kinds", {"service", "user"}}, {"ids", {"ci", "local:*"}},
                       {"meta", {{"team", {"ops", "billing"}}}}};
  CHECK_FALSE(access_denied_by(access, {{"id", "ci"}, {"kind", "service"}, {"meta", {{"team", "ops"}}}}));
  CHECK(access_denied_by(access, {{"id", "ci"}, {"kind", "robot"}, {"meta", {{"team", "ops"}}}}) ==
        "access.kinds");
  CHECK(access_denied_by(access, {{"id", "other"}, {"kind", "user"}, {"meta", {{"team", "ops"}}}}) ==
        "access.ids");
  CHECK_FALSE(access_denied_by(access, {{"id", "local:ada"}, {"kind", "user"},
                                        {"meta", {{"team", "billing"}}}}));
  CHECK(access_denied_by(access, {{"id", "ci"}, {"kind", "user"}, {"meta", {{"team", "sales"}}}}) ==
        "access.meta.team");
  CHECK(access_denied_by(access, json()) == "access.kinds"); // no invoker: fail closed
  CHECK_FALSE(access_denied_by(json(), json()));            // no rules: open
  CHECK_THROWS_WITH_AS(check_access(access, {{"id", "x"}, {"kind", "robot"}}, "workflow \"w\""),
                       doctest::Contains("workflow \"w\""), hearth::Error);
}

TEST_CASE("workspace grants: all, or paths filled from the invoker, never escaping") {
  const json access = {{"workspace", {{"all", {{"scope", "all"}}},
                                      {"grants", {{{"path", "customers/{{invoker.meta.customer}}"}},
                                                  {{"path", "../etc"}}, {{"path", "/abs"}}}}}}};
  CHECK(workspace_grant(access, {{"id", "a"}, {"meta", {{"scope", "all"}}}}).all);
  const auto grant = workspace_grant(access, {{"id", "b"}, {"meta", {{"customer", "acme"}}}});
  CHECK_FALSE(grant.all);
  CHECK(grant.paths == std::vector<std::string>{"customers/acme"});
  CHECK(grant.to_json() == json{{"grants", {"customers/acme"}}});
  CHECK(workspace_grant(json(), json()).all);
  // A value of "." would make the grant `customers/.`, i.e. every customer: it grants nothing.
  const auto dot = workspace_grant(access, {{"id", "c"}, {"meta", {{"customer", "."}}}});
  CHECK_FALSE(dot.all);
  CHECK(dot.paths.empty());
}

TEST_CASE("profiles: selected by the four context keys, meta merged, only when allowed") {
  const json config = {{"profiles", {{{"id", "portal-acme"}, {"kind", "customer"}, {"label", "Acme"},
                                      {"meta", {{"customer", "acme"}}}}}}};
  const json requested = {{"id", "ci"}, {"kind", "service"}, {"meta", {{"customer", "x"}, {"team", "ops"}}}};
  for (const char* key : {"invoker.profileId", "invokerProfileId", "invoker.profile", "invokerProfile"}) {
    CAPTURE(key);
    const auto out = select_profile(config, requested, {{key, "portal-acme"}}, true, "agent \"a\"");
    CHECK(out == json{{"id", "portal-acme"}, {"kind", "customer"}, {"label", "Acme"},
                      {"meta", {{"customer", "acme"}, {"team", "ops"}}}});
  }
  CHECK(select_profile(config, requested, json::object(), false, "a") == requested);
  CHECK_THROWS_WITH_AS(select_profile(config, requested, {{"invokerProfile", "portal-acme"}}, false, "a"),
                       doctest::Contains("may not invoke"), hearth::Error);
  CHECK_THROWS_AS(select_profile(config, requested, {{"invokerProfile", "nobody"}}, true, "a"),
                  hearth::Error);
}

TEST_CASE("resolve: an executable normalizes the invoker") {
  TempProject dir;
  dir.write("resolve.py",
            "#!/usr/bin/env python3\nimport json, sys\nreq = json.load(sys.stdin)\n"
            "inv = req['selectedProfile'] or req['defaultInvoker']\n"
            "inv['meta'] = {'customer': inv.get('meta', {}).get('customer', '').strip().lower()}\n"
            "print(json.dumps({'invoker': inv}))\n",
            true);
  const json config = {{"resolve", {{"command", {"./resolve.py"}}}}};
  const auto out = resolve_invocation(config, dir.root(), {{"id", "u"}, {"meta", {{"customer", " ACME "}}}},
                                      json::object(), false, "agent \"a\"");
  CHECK(out.invoker == json{{"id", "u"}, {"meta", {{"customer", "acme"}}}});
  CHECK(out.context == json::object());
  dir.write("bad.py", "#!/bin/sh\nexit 3\n", true);
  CHECK_THROWS_WITH_AS(resolve_invocation({{"resolve", {{"command", {"./bad.py"}}}}}, dir.root(),
                                          {{"id", "u"}}, json::object(), false, "agent \"a\""),
                       doctest::Contains("agent"), hearth::Error);
}

TEST_CASE("resolve: context values come back; garbage answers deny, never crash") {
  TempProject dir;
  dir.write("ok.py",
            "#!/usr/bin/env python3\nimport json, sys\nreq = json.load(sys.stdin)\n"
            "print(json.dumps({'invoker': {'id': 'cust:' + req['context'].get('c', '?')},\n"
            "                  'context': {'support.customer': {'customer': req['context'].get('c')}}}))\n",
            true);
  const auto out = resolve_invocation({{"resolve", {{"command", {"./ok.py"}}}}}, dir.root(),
                                      {{"id", "u"}}, {{"c", "acme"}}, false, "agent \"a\"");
  CHECK(out.invoker == json{{"id", "cust:acme"}});
  CHECK(out.context == json{{"support.customer", {{"customer", "acme"}}}});
  const std::vector<std::pair<std::string, std::string>> garbage = {
      {"not json", "echo 'not json at all'"},
      {"no invoker", "echo '{\"context\": {}}'"},
      {"id not a string", "echo '{\"invoker\": {\"id\": 7}}'"},
      {"empty id", "echo '{\"invoker\": {\"id\": \"\"}}'"},
      {"meta not an object", "echo '{\"invoker\": {\"id\": \"x\", \"meta\": [1]}}'"},
      {"context not an object", "echo '{\"invoker\": {\"id\": \"x\"}, \"context\": 3}'"},
      {"deep nesting", "python3 -c \"print('[' * 30000)\""},
      {"too much output", "python3 -c \"print('a' * 200000)\""},
      {"timeout", "sleep 5"}};
  for (const auto& [name, script] : garbage) {
    CAPTURE(name);
    dir.write("g.sh", "#!/bin/sh\n" + script + "\n", true);
    CHECK_THROWS_WITH_AS(resolve_invocation({{"resolve", {{"command", {"./g.sh"}}, {"timeoutMs", 500}}}},
                                            dir.root(), {{"id", "u"}}, json::object(), false,
                                            "agent \"a\""),
                         doctest::Contains("invoker.resolve"), hearth::Error);
  }
}

TEST_CASE("grants intersect: all with anything is the other, paths keep the narrower") {
  const WorkspaceGrant all;
  const WorkspaceGrant a{.all = false, .paths = {"customers", "shared/x"}};
  const WorkspaceGrant b{.all = false, .paths = {"customers/acme", "shared", "other"}};
  CHECK(intersect(all, a).paths == a.paths);
  CHECK_FALSE(intersect(a, all).all);
  CHECK(intersect(all, all).all);
  const auto both = intersect(a, b);
  CHECK_FALSE(both.all);
  CHECK(both.paths == std::vector<std::string>{"customers/acme", "shared/x"});
  // a prefix that is not a path component does not count: "customers2" is not under "customers"
  CHECK(intersect(a, {.all = false, .paths = {"customers2"}}).paths.empty());
}

TEST_CASE("tools receive the invoker as HEARTH_INVOKER; none is set without one") {
  ::setenv("HEARTH_INVOKER", "{\"id\":\"spoofed\"}", 1); // never inherited from outside
  // What a command really gets: the sandbox's allow-list plus the tool's HEARTH_* variables.
  auto tool_environment = [](const ToolContext& context) {
    return hearth::sandbox::environment({.hearth_env = hearth::runtime::tool_environment(context)}, {});
  };
  const auto with = tool_environment({.agent = "a", .invoker = R"({"id":"ci","kind":"service"})"});
  CHECK(std::count(with.begin(), with.end(), R"(HEARTH_INVOKER={"id":"ci","kind":"service"})") == 1);
  CHECK(std::count_if(with.begin(), with.end(), [](const std::string& e) {
          return e.rfind("HEARTH_INVOKER=", 0) == 0;
        }) == 1);
  const auto without = tool_environment({.agent = "a"});
  CHECK(std::none_of(without.begin(), without.end(), [](const std::string& e) {
    return e.rfind("HEARTH_INVOKER=", 0) == 0;
  }));
  ::unsetenv("HEARTH_INVOKER");
}

} // TEST_SUITE

// Session workspace directory names (runtime.hpp workspace_name): readable, one path component,
// and never shared by two different (agent, instance, session) triples.
#include "runtime/runtime.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

using hearth::runtime::workspace_name;

TEST_SUITE("runtime") {
  TEST_CASE("workspace names never collide through safe_component") {
    // Before: safe_component("a-b:c-default") == safe_component("a-b_c-default"), and the '-'
    // join made agent "a-b" instance "c" the same directory as agent "a" instance "b-c".
    const std::vector<std::vector<std::string>> triples = {
        {"a", "b:c", "default"}, {"a", "b_c", "default"}, {"a-b", "c", "default"},
        {"a", "b-c", "default"}, {"a", "github:v1:owner:o:repo:r:issue:1", "default"},
        {"a", "github_v1_owner_o_repo_r_issue_1", "default"}};
    std::set<std::string> names;
    for (const auto& t : triples) {
      const auto name = workspace_name(t);
      CHECK(name.find('/') == std::string::npos);
      CHECK(name.find(':') == std::string::npos);
      CHECK(name != ".");
      CHECK(name != "..");
      names.insert(name);
    }
    CHECK(names.size() == triples.size());
    CHECK(workspace_name({"a", "b:c", "default"}) == workspace_name({"a", "b:c", "default"}));
    CHECK(workspace_name({"agent", "local", "default"}).rfind("agent-local-default-", 0) == 0);
    // Long instance ids stay one short path component.
    CHECK(workspace_name({"a", std::string(600, 'x'), "default"}).size() <= 120 + 17);
  }
}

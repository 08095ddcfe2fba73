#include "config/config.hpp"
#include "core/error.hpp"
#include "manifest/bundle.hpp"
#include "manifest/manifest.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace hearth;

TEST_SUITE("manifest") {
  TEST_CASE("compile writes the artifacts, then reuses them until an input changes") {
    TempProject p;
    p.write("hearth.json", R"({"name": "m"})");
    p.write("agent/instructions.md", "Hi.\n");
    const auto project = config::resolve({}, p.root());
    const auto first = manifest::compile(project);
    CHECK_FALSE(first.reused);
    CHECK(first.status == "ready");
    CHECK(std::filesystem::exists(first.artifacts.metadata));
    const auto second = manifest::compile(project);
    CHECK(second.reused);
    CHECK(second.manifest == first.manifest);
    p.write("agent/skills/new.md", "A new skill.\n");
    const auto third = manifest::compile(project);
    CHECK_FALSE(third.reused);
    CHECK(third.manifest["agents"][0]["skills"].size() == 1);
    // A damaged artifact is recompiled, not trusted.
    p.write(".hearth/compile/compiled-agent-manifest.json", "garbage");
    CHECK_FALSE(manifest::compile(project).reused);
  }

  TEST_CASE("the manifest lists built-ins, subagent tools and authored tools in order") {
    TempProject p;
    p.write("agent/instructions.md", "Hi.\n");
    p.write("agent/subagents/helper/agent.json", R"({"description": "Helps"})");
    p.write("agent/tools/read_file.json", R"({"description": "Mine", "inputSchema": {"type": "object"}, "command": ["true"]})");
    const auto m = manifest::compile(config::resolve({}, p.root())).manifest;
    std::vector<std::string> names, kinds;
    for (const auto& t : m["agents"][0]["tools"]) {
      names.push_back(t["name"]);
      kinds.push_back(t["kind"]);
    }
    CHECK(names == std::vector<std::string>{"write_file", "glob", "grep", "bash", "load_skill",
                                            "ask_question", "agent", "helper", "read_file"});
    CHECK(kinds[7] == "subagent");
    CHECK(kinds[8] == "authored");
  }

  TEST_CASE("load refuses other kinds and versions") {
    TempProject p;
    const auto bad = p.write("m.json", R"({"kind": "other", "version": 1})");
    CHECK_THROWS_AS(manifest::load(bad), Error);
    const auto old = p.write("o.json", R"({"kind": "hearth-compiled-manifest", "version": 99})");
    CHECK_THROWS_AS(manifest::load(old), Error);
    CHECK_THROWS_AS(manifest::load(p.root() / "missing.json"), Error);
  }

  TEST_CASE("the input hash ignores .hearth and dist but sees every slot") {
    TempProject p;
    p.write("agent/instructions.md", "Hi.\n");
    const auto project = config::resolve({}, p.root());
    const auto a = manifest::scan_inputs(project);
    p.write("dist/x", "1");
    p.write(".hearth/y", "1");
    CHECK(manifest::scan_inputs(project).hash == a.hash);
    p.write("agent/tools/t.json", "{}");
    const auto b = manifest::scan_inputs(project);
    CHECK(b.hash != a.hash);
    CHECK(std::count(b.files.begin(), b.files.end(), "agent/tools/t.json") == 1);
  }

  TEST_CASE("needed_libraries reads DT_NEEDED and maps sonames to Debian packages") {
    const auto libs = manifest::needed_libraries("/proc/self/exe");
    CHECK(std::find(libs.begin(), libs.end(), "libc.so.6") != libs.end());
    CHECK(manifest::needed_libraries("/etc/hostname").empty());
    CHECK(manifest::debian_package_for("libyaml-cpp.so.0.7") == "libyaml-cpp0.7");
    CHECK(manifest::debian_package_for("libssl.so.3") == "libssl3");
    CHECK(manifest::debian_package_for("libc.so.6").empty());
  }
}

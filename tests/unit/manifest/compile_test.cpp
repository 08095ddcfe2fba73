#include "config/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "manifest/bundle.hpp"
#include "manifest/manifest.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <thread>
#include <sys/stat.h>

using namespace hearth;

namespace {

/// Rewrites `path` in place (same inode) with `content`, then puts its mtime back, as `cp -p`
/// onto it or `touch -r` would: only the ctime tells. Waits a clock tick first, so it moves.
void rewrite_keeping_mtime(const std::filesystem::path& path, const std::string& content) {
  struct stat before {};
  REQUIRE(::stat(path.c_str(), &before) == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  { std::ofstream(path, std::ios::binary) << content; }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  struct stat after {};
  REQUIRE(::stat(path.c_str(), &after) == 0);
  REQUIRE(after.st_ino == before.st_ino);
  REQUIRE(after.st_size == before.st_size);
}

} // namespace

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

  TEST_CASE("a reuse that need not load the manifest checks its bytes against the recorded hash") {
    TempProject p;
    p.write("agent/instructions.md", "Hi.\n");
    const auto project = config::resolve({}, p.root());
    const auto first = manifest::compile(project);
    const auto verdict = manifest::compile(project, nullptr, /*load_manifest=*/false);
    CHECK(verdict.reused);
    CHECK(verdict.status == "ready");
    CHECK(verdict.manifest.is_null());
    // Valid JSON of the right kind, but not the bytes that were written: recompiled.
    auto other = first.manifest;
    other["name"] = "tampered";
    p.write(".hearth/compile/compiled-agent-manifest.json", other.dump());
    const auto again = manifest::compile(project, nullptr, /*load_manifest=*/false);
    CHECK_FALSE(again.reused);
    CHECK(again.manifest == first.manifest);
    CHECK(manifest::compile(project, nullptr, false).reused); // the rewrite recorded its hash
  }

  TEST_CASE("artifacts with fields of the wrong type are compiled again, never a type_error") {
    TempProject p;
    p.write("agent/instructions.md", "Hi.\n");
    const auto project = config::resolve({}, p.root());
    const auto first = manifest::compile(project);
    const auto meta_path = p.root() / ".hearth/compile/compile-metadata.json";
    auto meta = nlohmann::json::parse(hearth::fs::read_file(meta_path));
    SUBCASE("diagnostics whose entries hold numbers where strings belong") {
      p.write(".hearth/discovery/diagnostics.json",
              R"({"diagnostics": [{"severity": 1, "code": 2, "message": []}]})");
      const auto again = manifest::compile(project);
      CHECK_FALSE(again.reused);
      CHECK(again.errors() == 0);
    }
    SUBCASE("metadata and manifest fields of other types") {
      meta["compiledManifestHash"] = 42;
      p.write(".hearth/compile/compile-metadata.json", meta.dump());
      CHECK(manifest::compile(project, nullptr, false).reused); // falls back to parsing it
      meta["inputHash"] = {1, 2};
      p.write(".hearth/compile/compile-metadata.json", meta.dump());
      CHECK_FALSE(manifest::compile(project).reused);
      auto m = first.manifest;
      m["kind"] = 7;
      p.write(".hearth/compile/compiled-agent-manifest.json", m.dump());
      CHECK_THROWS_AS(manifest::load(p.root() / ".hearth/compile/compiled-agent-manifest.json"),
                      hearth::Error);
    }
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

  TEST_CASE("a warm cache sees a file replaced with the same size and mtime (issue 17 §4)") {
    TempProject p;
    p.write("hearth.json", R"({"name": "m"})");
    p.write("agent/instructions.md", "Hi.\n");
    const auto skill = p.write("agent/skills/s.md", "---\ndescription: Old one.\n---\nBody\n");
    const auto project = config::resolve({}, p.root());
    CHECK_FALSE(manifest::compile(project).reused);
    CHECK(manifest::compile(project).reused); // warm: one lstat per entry, nothing read
    struct stat before {};
    REQUIRE(::stat(skill.c_str(), &before) == 0);
    // An editor's write-and-rename that restores the old mtime (cp -p, touch -r): the size and
    // mtime are the old ones, only the inode tells.
    const auto fresh = p.write("agent/skills/s.md.new", "---\ndescription: New one.\n---\nBody\n");
    const struct timespec times[2] = {before.st_atim, before.st_mtim};
    REQUIRE(::utimensat(AT_FDCWD, fresh.c_str(), times, 0) == 0);
    REQUIRE(std::filesystem::file_size(fresh) == static_cast<std::uintmax_t>(before.st_size));
    std::filesystem::rename(fresh, skill);
    const auto again = manifest::compile(project);
    CHECK_FALSE(again.reused);
    CHECK(again.manifest["agents"][0]["skills"][0]["description"] == "New one.");
    CHECK(manifest::compile(project).reused);
    // Rewritten in place with its mtime put back (same inode too): the ctime tells.
    rewrite_keeping_mtime(skill, "---\ndescription: Third!!!\n---\nBody\n");
    const auto third = manifest::compile(project);
    CHECK_FALSE(third.reused);
    CHECK(third.manifest["agents"][0]["skills"][0]["description"] == "Third!!!");
  }

  TEST_CASE("a build fails when an input changes between its compile and its copy") {
    TempProject p;
    p.write("hearth.json", R"({"name": "b"})");
    p.write("agent/instructions.md", "Hi.\n");
    const auto skill = p.write("agent/skills/s.md", "---\ndescription: Old.\n---\nBody\n");
    const auto project = config::resolve({}, p.root());
    REQUIRE(manifest::compile(project).errors() == 0);
    rewrite_keeping_mtime(skill, "---\ndescription: New.\n---\nBody\n");
    try {
      manifest::write_bundle(project, project.output, "/bin/true");
      FAIL("the build shipped a manifest of other files");
    } catch (const Error& e) {
      CHECK(e.info().type == "build_inputs_changed");
    }
    CHECK_FALSE(std::filesystem::exists(project.output));
    // Compiled again, it builds.
    REQUIRE(manifest::compile(project).errors() == 0);
    CHECK(manifest::write_bundle(project, project.output, "/bin/true").files == 2);
  }

  TEST_CASE("a rebuild links the previous output's unchanged copies and copies what changed") {
    TempProject p;
    p.write("hearth.json", R"({"name": "b"})");
    p.write("agent/instructions.md", "Hi.\n");
    const auto kept = p.write("agent/skills/kept.md", "---\ndescription: Kept.\n---\nBody\n");
    const auto edited = p.write("agent/skills/edited.md", "---\ndescription: Old.\n---\nBody\n");
    const auto project = config::resolve({}, p.root());
    const std::filesystem::path binary = "/bin/true";
    REQUIRE(manifest::compile(project).errors() == 0);
    // A copy made in the clock tick of its source's last change is never trusted: step past it.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const auto first = manifest::write_bundle(project, project.output, binary);
    CHECK(first.linked == 0);
    const auto out = first.output;
    struct stat src {}, copy {};
    REQUIRE(::stat(kept.c_str(), &src) == 0);
    REQUIRE(::stat((out / "agent/skills/kept.md").c_str(), &copy) == 0);
    CHECK(src.st_ino != copy.st_ino); // the project's own files are never linked
    const auto copied_inode = copy.st_ino;

    // Same size, same mtime, new bytes written in place: the ctime says it changed after the copy.
    rewrite_keeping_mtime(edited, "---\ndescription: New.\n---\nBody\n");
    REQUIRE(manifest::compile(project).errors() == 0);
    const auto second = manifest::write_bundle(project, project.output, binary);
    CHECK(second.linked == 3); // kept.md, instructions.md, bin/hearth
    REQUIRE(::stat((out / "agent/skills/kept.md").c_str(), &copy) == 0);
    CHECK(copy.st_ino == copied_inode);
    std::ifstream in(out / "agent/skills/edited.md");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(text.find("New.") != std::string::npos);
    // The output reads back without recompiling, though removing the old tree moved the ctimes
    // of the files this build linked.
    config::ProjectFlags flags;
    flags.root = out.string();
    CHECK(manifest::compile(config::resolve(flags, out)).reused);

    // A copy in the output edited in place with its mtime put back is not linked again: the
    // next build copies its source anew.
    const auto copy_path = out / "agent/skills/kept.md";
    rewrite_keeping_mtime(copy_path, "---\ndescription: Bad!!\n---\nBody\n");
    const auto third = manifest::write_bundle(project, project.output, binary);
    CHECK(third.linked == 3); // instructions.md, edited.md, bin/hearth
    std::ifstream kept_in(copy_path);
    const std::string kept_text((std::istreambuf_iterator<char>(kept_in)), std::istreambuf_iterator<char>());
    CHECK(kept_text.find("Kept.") != std::string::npos);
    CHECK(manifest::compile(config::resolve(flags, out)).reused);
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

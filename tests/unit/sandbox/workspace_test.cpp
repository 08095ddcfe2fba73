#include "core/error.hpp"
#include "sandbox/workspace.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using hearth::sandbox::Workspace;
namespace stdfs = std::filesystem;

TEST_SUITE("sandbox") {
  TEST_CASE("prepare seeds missing files and keeps the session's own edits") {
    TempProject project;
    project.write("seed/notes.txt", "seeded");
    project.write("seed/dir/a.txt", "a");
    project.write("skills/get-weather.md", "skill");
    const auto root = project.root() / "ws";
    auto ws = Workspace::prepare(root, {{project.root() / "seed", "."},
                                        {project.root() / "skills", "skills"}});
    CHECK(stdfs::exists(root / "notes.txt"));
    CHECK(stdfs::exists(root / "dir/a.txt"));
    CHECK(stdfs::exists(root / "skills/get-weather.md"));
    project.write("ws/notes.txt", "edited");
    Workspace::prepare(root, {{project.root() / "seed", "."}});
    std::ifstream in(root / "notes.txt");
    std::string content;
    std::getline(in, content);
    CHECK(content == "edited");
  }

  TEST_CASE("resolve keeps paths inside the workspace") {
    TempProject project;
    project.write("ws/a.txt", "a");
    project.write("outside.txt", "secret");
    const Workspace ws(project.root() / "ws");
    CHECK(ws.resolve("a.txt") == ws.root() / "a.txt");
    CHECK(ws.resolve("sub/../a.txt") == ws.root() / "a.txt");
    CHECK(ws.resolve("new/file.txt") == ws.root() / "new/file.txt");
    CHECK(ws.resolve(".") == ws.root());
    CHECK(ws.resolve((ws.root() / "a.txt").string()) == ws.root() / "a.txt");
    CHECK_THROWS_AS(ws.resolve("../outside.txt"), hearth::Error);
    CHECK_THROWS_AS(ws.resolve("/etc/passwd"), hearth::Error);
    CHECK_THROWS_AS(ws.resolve("a/../../outside.txt"), hearth::Error);
  }

  TEST_CASE("a symlink pointing out of the workspace is refused") {
    TempProject project;
    project.write("outside/secret.txt", "secret");
    project.mkdir("ws");
    stdfs::create_directory_symlink(project.root() / "outside", project.root() / "ws/link");
    const Workspace ws(project.root() / "ws");
    CHECK_THROWS_AS(ws.resolve("link/secret.txt"), hearth::Error);
    CHECK(ws.relative(ws.root() / "x/y") == "x/y");
  }
}

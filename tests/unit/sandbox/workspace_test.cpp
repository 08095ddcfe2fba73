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

  TEST_CASE("a lazy workspace is made and seeded on first use only") {
    TempProject project;
    project.write("seed/notes.txt", "seeded");
    const auto root = project.root() / "ws";
    const auto ws = Workspace::lazy(root, {{project.root() / "seed", "."}});
    CHECK_FALSE(stdfs::exists(root));
    CHECK(ws.root() == stdfs::weakly_canonical(root));
    const auto copy = ws; // copies share the pending creation
    CHECK(copy.resolve("notes.txt") == ws.root() / "notes.txt");
    REQUIRE(stdfs::exists(root / "notes.txt"));
    std::ifstream in(root / "notes.txt");
    std::string content;
    std::getline(in, content);
    CHECK(content == "seeded");
    // Once only, for the copy it was made through and for the original: a seed file the run
    // removed since is not brought back.
    stdfs::remove(root / "notes.txt");
    ws.materialize();
    copy.materialize();
    CHECK(ws.resolve("other.txt") == ws.root() / "other.txt");
    CHECK_FALSE(stdfs::exists(root / "notes.txt"));
  }

  TEST_CASE("a lazy workspace's root is canonical through a linked parent, and a linked name "
            "is refused") {
    TempProject project;
    project.write("real/workspaces/.keep", "");
    project.write("elsewhere/secret.txt", "secret");
    stdfs::create_directory_symlink(project.root() / "real", project.root() / "state");
    // The parent is a link: the root is its target's path, as weakly_canonical gives.
    const auto ws = Workspace::lazy(project.root() / "state" / "workspaces" / "run_1", {});
    CHECK(ws.root() == stdfs::canonical(project.root() / "real" / "workspaces") / "run_1");
    CHECK(ws.resolve("a.txt") == ws.root() / "a.txt");
    CHECK(stdfs::is_directory(project.root() / "real" / "workspaces" / "run_1"));
    // The same parent again (remembered): the same answer.
    const auto again = Workspace::lazy(project.root() / "state" / "workspaces" / "run_2", {});
    CHECK(again.root() == stdfs::canonical(project.root() / "real" / "workspaces") / "run_2");
    // A run's name planted as a link out of the workspaces: nothing behind it is reachable.
    stdfs::create_directory_symlink(project.root() / "elsewhere",
                                    project.root() / "real" / "workspaces" / "run_3");
    const auto planted = Workspace::lazy(project.root() / "state" / "workspaces" / "run_3", {});
    CHECK_THROWS_AS(planted.resolve("secret.txt"), hearth::Error);
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

TEST_SUITE("sandbox") {
  TEST_CASE("a confined workspace resolves only granted paths and the way to them") {
    using Reach = Workspace::Reach;
    TempProject project;
    project.write("ws/customers/acme/notes.txt", "acme");
    project.write("ws/customers/globex/secret.txt", "globex");
    project.write("ws/top.txt", "top");
    project.write("outside.txt", "outside");
    Workspace ws(project.root() / "ws");
    ws.confine({"customers/acme", "shared/new"});
    CHECK(ws.confined());
    CHECK(ws.grants_text() == "customers/acme, shared/new");
    CHECK(stdfs::is_directory(ws.root() / "shared/new")); // created so it can be used and mounted
    SUBCASE("inside a grant") {
      CHECK(ws.resolve("customers/acme/notes.txt") == ws.root() / "customers/acme/notes.txt");
      CHECK(ws.resolve("/workspace/customers/acme/new.txt") == ws.root() / "customers/acme/new.txt");
      CHECK(ws.reach(ws.root() / "customers/acme") == Reach::granted);
    }
    SUBCASE("beside the grant") {
      CHECK_THROWS_WITH_AS(ws.resolve("customers/globex/secret.txt"),
                           doctest::Contains("outside this invocation's workspace grant "
                                             "(customers/acme, shared/new)"),
                           hearth::Error);
      CHECK_THROWS_AS(ws.resolve("top.txt"), hearth::Error);
      CHECK_THROWS_AS(ws.resolve("customers/acmeX/file"), hearth::Error);
      CHECK(ws.reach(ws.root() / "customers/globex") == Reach::none);
    }
    SUBCASE("`..` cannot climb out of a grant") {
      CHECK_THROWS_AS(ws.resolve("customers/acme/../globex/secret.txt"), hearth::Error);
      CHECK_THROWS_AS(ws.resolve("customers/acme/../../top.txt"), hearth::Error);
      CHECK_THROWS_AS(ws.resolve("customers/acme/../../../outside.txt"), hearth::Error);
    }
    SUBCASE("the way to a grant is traversable but not granted") {
      CHECK(ws.resolve(".") == ws.root());
      CHECK(ws.resolve("customers") == ws.root() / "customers");
      CHECK(ws.reach(ws.root()) == Reach::way);
      CHECK(ws.reach(ws.root() / "customers") == Reach::way);
    }
  }

  TEST_CASE("a symlink inside a grant cannot reach beside it") {
    TempProject project;
    project.write("ws/customers/globex/secret.txt", "globex");
    project.mkdir("ws/customers/acme");
    stdfs::create_symlink(project.root() / "ws/customers/globex/secret.txt",
                          project.root() / "ws/customers/acme/link.txt");
    stdfs::create_directory_symlink(project.root() / "ws/customers/globex",
                                    project.root() / "ws/customers/acme/dir");
    Workspace ws(project.root() / "ws");
    ws.confine({"customers/acme"});
    CHECK_THROWS_WITH_AS(ws.resolve("customers/acme/link.txt"),
                         doctest::Contains("workspace grant"), hearth::Error);
    CHECK_THROWS_AS(ws.resolve("customers/acme/dir/secret.txt"), hearth::Error);
  }

  TEST_CASE("a grant that is itself a symlink out of the workspace grants nothing") {
    TempProject project;
    project.write("outside/secret.txt", "secret");
    project.mkdir("ws");
    stdfs::create_directory_symlink(project.root() / "outside", project.root() / "ws/escape");
    Workspace ws(project.root() / "ws");
    ws.confine({"escape", "../outside"});
    CHECK(ws.granted().empty());
    CHECK_THROWS_AS(ws.resolve("escape/secret.txt"), hearth::Error);
    CHECK_THROWS_WITH_AS(ws.resolve("anything"), doctest::Contains("nothing granted"), hearth::Error);
  }

  TEST_CASE("an unconfined workspace (grant `all`) reaches everything inside it") {
    TempProject project;
    project.write("ws/customers/globex/secret.txt", "globex");
    const Workspace ws(project.root() / "ws");
    CHECK_FALSE(ws.confined());
    CHECK(ws.resolve("customers/globex/secret.txt") == ws.root() / "customers/globex/secret.txt");
    CHECK(ws.reach(ws.root() / "customers") == Workspace::Reach::granted);
    CHECK(ws.reach(project.root()) == Workspace::Reach::none);
  }
}

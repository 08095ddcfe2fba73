// Watcher tests against real inotify in temp dirs (create, modify, atomic rename, delete, new
// subdirectories, ignore rules), the polling fallback and the fake.
#include "support/temp_project.hpp"
#include "watch/watcher.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <poll.h>

using namespace hearth::watch;
namespace fs = std::filesystem;

namespace {

/// Collects changes until `done` holds for them or 3 s pass (no fixed sleeps).
template <typename Pred>
std::vector<Change> collect(Watcher& watcher, Pred done) {
  std::vector<Change> all;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!done(all) && std::chrono::steady_clock::now() < deadline) {
    pollfd p{.fd = watcher.fd(), .events = POLLIN, .revents = 0};
    ::poll(&p, 1, watcher.fd() < 0 ? 10 : 50);
    for (auto& c : watcher.take()) all.push_back(std::move(c));
  }
  return all;
}

bool has(const std::vector<Change>& changes, const fs::path& path) {
  for (const auto& c : changes)
    if (c.path == path) return true;
  return false;
}

bool has_kind(const std::vector<Change>& changes, const fs::path& path, ChangeKind kind) {
  for (const auto& c : changes)
    if (c.path == path && c.kind == kind) return true;
  return false;
}

IgnoreRules rules_for(const TempProject& project) {
  return IgnoreRules{.root = project.root(), .ignored_dirs = {project.root() / "dist"}};
}

} // namespace

TEST_SUITE("watch") {
  TEST_CASE("ignore rules skip outputs, dot dirs, dependency dirs and editor temporaries") {
    const IgnoreRules rules{.root = "/p", .ignored_dirs = {"/p/dist"}};
    for (const char* path : {"/p/dist/server.js", "/p/dist", "/p/.git/index", "/p/.hearth/state.db",
                             "/p/node_modules/x/index.js", "/p/src/__pycache__/a.pyc",
                             "/p/workflows/hello.md~", "/p/workflows/.hello.md.swp",
                             "/p/workflows/.hello.md.swx", "/p/workflows/4913", "/p/.#hello.md",
                             "/p/#hello.md#", "/p/a.md___jb_tmp___", "/p/.DS_Store", "/other/x",
                             "/p/.idea/workspace.xml"})
      CHECK_MESSAGE(is_ignored(rules, path), path);
    for (const char* path : {"/p", "/p/workflows/hello.md", "/p/hearth.json", "/p/.env",
                             "/p/.env.local", "/p/agents/a/tools/t.json", "/p/distant/x"})
      CHECK_MESSAGE(!is_ignored(rules, path), path);
  }

  TEST_CASE("inotify sees creation, modification and deletion") {
    TempProject project;
    project.mkdir("workflows");
    InotifyWatcher watcher(rules_for(project));
    const auto file = project.write("workflows/hello.md", "one");
    auto changes = collect(watcher, [&](auto& c) { return has(c, file); });
    CHECK(has_kind(changes, file, ChangeKind::created));

    project.write("workflows/hello.md", "two");
    changes = collect(watcher, [&](auto& c) { return has(c, file); });
    CHECK(has_kind(changes, file, ChangeKind::modified));

    fs::remove(file);
    changes = collect(watcher, [&](auto& c) { return has(c, file); });
    CHECK(has_kind(changes, file, ChangeKind::deleted));
  }

  TEST_CASE("inotify keeps seeing a file replaced by atomic renames, many times") {
    TempProject project;
    const auto file = project.write("workflows/hello.md", "v0");
    InotifyWatcher watcher(rules_for(project));
    for (int i = 1; i <= 5; ++i) { // what sed -i and vim do: write a temp, rename over
      const auto temp = project.write("workflows/sedXYZ" + std::to_string(i), "v" + std::to_string(i));
      fs::rename(temp, file);
      const auto changes = collect(watcher, [&](auto& c) { return has(c, file); });
      CHECK_MESSAGE(has_kind(changes, file, ChangeKind::created), "rename " << i);
      if (changes.size() == 1) CHECK(changes[0].path == file); // the temporary is not reported
    }
  }

  TEST_CASE("inotify watches new subdirectories and reports files already inside them") {
    TempProject project;
    InotifyWatcher watcher(rules_for(project));
    const auto before = watcher.watch_count();
    // mkdir -p plus a file at once: the file may land before the watch on the new dir exists.
    const auto early = project.write("agents/triage/tools/lookup.json", "{}");
    auto changes = collect(watcher, [&](auto& c) { return has(c, early); });
    CHECK(has(changes, early));
    CHECK(watcher.watch_count() == before + 3);

    const auto later = project.write("agents/triage/tools/refund.json", "{}");
    changes = collect(watcher, [&](auto& c) { return has(c, later); });
    CHECK(has_kind(changes, later, ChangeKind::created));
  }

  TEST_CASE("inotify drops ignored paths and follows a directory moved within the tree") {
    TempProject project;
    project.mkdir("src");
    InotifyWatcher watcher(rules_for(project));
    project.write("dist/server.js", "x");
    project.write(".hearth/compile/m.json", "{}");
    project.write("src/hello.md~", "x");
    const auto marker = project.write("src/marker.md", "m");
    auto changes = collect(watcher, [&](auto& c) { return has(c, marker); });
    for (const auto& c : changes) CHECK_MESSAGE(c.path == marker, c.path.string());

    fs::rename(project.root() / "src", project.root() / "lib");
    const auto moved = project.write("lib/after.md", "a");
    changes = collect(watcher, [&](auto& c) { return has(c, moved); });
    CHECK(has_kind(changes, project.root() / "src", ChangeKind::deleted));
    CHECK(has(changes, moved));
  }

  TEST_CASE("polling notices created, modified and deleted files") {
    TempProject project;
    const auto file = project.write("workflows/a.md", "1");
    PollingWatcher watcher(rules_for(project));
    CHECK(watcher.take().empty());
    const auto added = project.write("workflows/b.md", "2");
    project.write("workflows/a.md", "longer");
    project.write("dist/x.js", "ignored");
    auto changes = watcher.take();
    CHECK(has_kind(changes, added, ChangeKind::created));
    CHECK(has_kind(changes, file, ChangeKind::modified));
    CHECK(changes.size() == 2);
    fs::remove(added);
    changes = watcher.take();
    CHECK(has_kind(changes, added, ChangeKind::deleted));
  }

  TEST_CASE("the fake watcher hands back what was pushed and signals its fd") {
    FakeWatcher watcher;
    watcher.push({.path = "/p/a", .kind = ChangeKind::created});
    pollfd p{.fd = watcher.fd(), .events = POLLIN, .revents = 0};
    CHECK(::poll(&p, 1, 0) == 1);
    const auto changes = watcher.take();
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].path == "/p/a");
    CHECK(::poll(&p, 1, 0) == 0);
  }
}

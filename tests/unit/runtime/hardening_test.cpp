// Issue 9, the runtime half: UTF-8 repair, JSON dumping that never throws on bytes, bounded
// stderr, workspace seeding that never follows a link, workspace retention, a bounded memory store.
#include "core/json.hpp"
#include "core/text.hpp"
#include "runtime/agent_tools.hpp"
#include "runtime/workspace_gc.hpp"
#include "sandbox/workspace.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace stdfs = std::filesystem;
using nlohmann::json;

TEST_SUITE("hardening") {
  TEST_CASE("to_utf8 replaces each ill-formed subpart with U+FFFD and keeps the rest") {
    using hearth::text::is_utf8;
    using hearth::text::to_utf8;
    CHECK(to_utf8("plain ascii") == "plain ascii");
    CHECK(to_utf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80") == "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80");
    CHECK(to_utf8("a\xFF\xFE" "b") == "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
    CHECK(to_utf8("\xE2\x82") == "\xEF\xBF\xBD");           // truncated sequence: one subpart
    CHECK(to_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD"); // overlong
    CHECK(to_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // surrogate
    CHECK(to_utf8("\xF4\x90\x80\x80").find("\xF4") == std::string::npos);  // > U+10FFFF
    CHECK(is_utf8(to_utf8("\x80\x81 x \xF0\x9F")));
  }

  TEST_CASE("dump_json replaces invalid UTF-8 instead of throwing type_error 316") {
    const json value = {{"text", std::string("bad \xFF byte")}};
    CHECK_THROWS(value.dump());
    CHECK(hearth::dump_json(value) == "{\"text\":\"bad \xEF\xBF\xBD byte\"}");
  }

  TEST_CASE("a stderr flood becomes at most k_max_stderr_events events and one note") {
    std::vector<std::string> events;
    hearth::runtime::StderrLog log(
        [&](std::string_view, std::string_view message) { events.emplace_back(message); }, "info");
    const std::string line(99, 'x');
    for (int i = 0; i < 100'000; ++i) log.line(line);
    log.finish();
    REQUIRE(events.size() == hearth::runtime::k_max_stderr_events + 1);
    for (std::size_t i = 0; i + 1 < events.size(); ++i)
      CHECK(events[i].size() <= hearth::runtime::k_stderr_chunk_bytes);
    CHECK(events.back().find("stderr truncated: at most 100 log events") != std::string::npos);
  }

  TEST_CASE("a few stderr lines are one event and no note") {
    std::vector<std::string> events;
    hearth::runtime::StderrLog log(
        [&](std::string_view, std::string_view message) { events.emplace_back(message); }, "info");
    log.line("one");
    log.line("  ");
    log.line("two\xFF");
    log.finish();
    REQUIRE(events.size() == 1);
    CHECK(events[0] == "one\ntwo\xEF\xBF\xBD");
  }

  TEST_CASE("workspace seeding never copies a symlink's target") {
    TempProject project;
    project.write("seed/ok.txt", "ok");
    stdfs::create_symlink("/etc/passwd", project.root() / "seed" / "passwd");
    stdfs::create_directories(project.root() / "seed" / "sub");
    stdfs::create_symlink("/etc", project.root() / "seed" / "etc");
    const auto root = project.root() / "ws";
    hearth::sandbox::Workspace::prepare(root, {{project.root() / "seed", "."}});
    CHECK(stdfs::exists(root / "ok.txt"));
    CHECK_FALSE(stdfs::exists(stdfs::symlink_status(root / "passwd")));
    CHECK_FALSE(stdfs::exists(stdfs::symlink_status(root / "etc")));
  }

  TEST_CASE("prune_workspaces keeps active runs and the newest finished ones") {
    TempProject project;
    auto store = hearth::store::open_store("memory:", project.root());
    const auto dir = project.root() / "workspaces";
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) {
      const auto id = "run_0000000000000000000000000" + std::to_string(i);
      store->create_run({.run_id = id, .workflow = "w", .payload = json::object()});
      if (i != 0) store->end_run({.run_id = id, .status = hearth::store::RunStatus::completed,
                                  .result = json(nullptr)});
      project.write("workspaces/" + id + "/f.txt", "data");
      ids.push_back(id);
    }
    project.write("workspaces/agent-local-default/keep.txt", "session");
    const auto dry = hearth::runtime::prune_workspaces(dir, *store, {.retain_runs = 2}, true);
    CHECK(dry.removed.size() == 2);
    CHECK(stdfs::exists(dir / ids[1]));
    const auto done = hearth::runtime::prune_workspaces(dir, *store, {.retain_runs = 2});
    REQUIRE(done.removed.size() == 2);
    CHECK(done.bytes == 8);
    CHECK(stdfs::exists(dir / ids[0])); // active: kept whatever the retention
    CHECK_FALSE(stdfs::exists(dir / ids[1]));
    CHECK_FALSE(stdfs::exists(dir / ids[2]));
    CHECK(stdfs::exists(dir / ids[3]));
    CHECK(stdfs::exists(dir / ids[4]));
    CHECK(stdfs::exists(dir / "agent-local-default"));
  }

  TEST_CASE("a memory store evicts its oldest finished runs past the cap") {
    TempProject project;
    auto store = hearth::store::open_store("memory:", project.root());
    store->create_run({.run_id = "run_active", .workflow = "w", .payload = json::object()});
    for (std::int64_t i = 0; i < hearth::store::k_memory_max_runs + 5; ++i) {
      const auto id = "run_" + std::to_string(100000 + i);
      store->create_run({.run_id = id, .workflow = "w", .payload = json::object()});
      store->end_run({.run_id = id, .status = hearth::store::RunStatus::completed,
                      .result = json(1)});
    }
    CHECK(store->get_run("run_active").has_value());
    CHECK_FALSE(store->get_run("run_100000").has_value());
    CHECK_FALSE(store->stream_info("runs/run_100000").has_value());
    CHECK(store->get_run("run_" + std::to_string(100000 + hearth::store::k_memory_max_runs + 4))
              .has_value());
  }
}

TEST_SUITE("hardening") {
  TEST_CASE("a number too large for a double is a parse error, not out_of_range (fuzz find)") {
    CHECK_THROWS_AS(hearth::parse_json("[33333e333]"), nlohmann::json::parse_error);
    CHECK(hearth::parse_json_or_discarded("1e999").is_discarded());
  }
}

// The dev banner: URL, source root, agents, workflows, routes (HEAD folded into GET), connect hint.
#include "cli/dev_supervisor.hpp"

#include <doctest/doctest.h>

using nlohmann::json;

TEST_SUITE("cli") {
  TEST_CASE("the dev banner lists what the manifest serves and how to connect") {
    const json manifest = {
        {"name", "weather"},
        {"agents", {{{"name", "weather"}}, {{"name", "triage"}}}},
        {"workflows", {{{"name", "hello"}}}},
        {"routes",
         {{{"method", "POST"}, {"path", "/workflows/hello"}},
          {{"method", "GET"}, {"path", "/runs/:runId"}},
          {{"method", "HEAD"}, {"path", "/runs/:runId"}}}}};
    hearth::config::Project project;
    project.source_root = "/p/src";
    const auto lines = hearth::cli::dev_banner(manifest, project, "http://127.0.0.1:3583");
    std::string text;
    for (const auto& l : lines) text += l + "\n";
    CHECK(text == "hearth dev: weather\n"
                  "  server     http://127.0.0.1:3583\n"
                  "  source     /p/src\n"
                  "  agents     weather, triage\n"
                  "  workflows  hello\n"
                  "  routes     POST /workflows/hello\n"
                  "             GET /runs/:runId\n"
                  "connect with: hearth connect weather local\n"
                  "a crashed server restarts at once (then after 250ms, 1s, 5s if it keeps crashing)\n"
                  "watching for changes; Ctrl+C to stop\n");
  }

  TEST_CASE("a manifest without agents or workflows says (none) and gives no connect hint") {
    hearth::config::Project project;
    project.name = "empty";
    const auto lines = hearth::cli::dev_banner(json::object(), project, "http://[::1]:1");
    CHECK(lines[0] == "hearth dev: empty");
    CHECK(lines[3] == "  agents     (none)");
    CHECK(lines.back() == "watching for changes; Ctrl+C to stop");
    for (const auto& l : lines) CHECK(l.find("connect with") == std::string::npos);
  }
}

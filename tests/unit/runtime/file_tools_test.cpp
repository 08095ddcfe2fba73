#include "runtime/file_tools.hpp"
#include "sandbox/workspace.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

namespace {
struct Fixture {
  TempProject project;
  hearth::sandbox::Workspace workspace{project.mkdir("ws")};
  ToolContext context{.workspace = &workspace};
  std::vector<Tool> tools = file_tools();

  ToolOutcome call(const std::string& name, const json& input) {
    for (const auto& tool : tools)
      if (tool.name == name) return tool.run(input, context);
    FAIL("no tool " << name);
    return {};
  }
};
} // namespace

TEST_SUITE("runtime") {
  TEST_CASE("write_file then read_file round-trips inside the workspace") {
    Fixture f;
    auto w = f.call("write_file", {{"path", "notes/a.txt"}, {"content", "one\ntwo\nthree\n"}});
    CHECK_FALSE(w.is_error);
    CHECK(w.details["path"] == "notes/a.txt");
    auto r = f.call("read_file", {{"path", "notes/a.txt"}});
    CHECK(r.text == "one\ntwo\nthree\n");
    auto part = f.call("read_file", {{"path", "notes/a.txt"}, {"offset", 2}, {"limit", 1}});
    CHECK(part.text.rfind("two\n", 0) == 0);
    CHECK(part.text.find("truncated") != std::string::npos);
  }

  TEST_CASE("file tools refuse paths outside the workspace with an error result") {
    Fixture f;
    f.project.write("secret.txt", "secret");
    CHECK(f.call("read_file", {{"path", "../secret.txt"}}).is_error);
    CHECK(f.call("write_file", {{"path", "/tmp/x"}, {"content", ""}}).is_error);
    CHECK(f.call("grep", {{"pattern", "s"}, {"path", ".."}}).is_error);
    CHECK(f.call("read_file", {{"path", "missing.txt"}}).is_error);
  }

  TEST_CASE("glob matches with and without **") {
    Fixture f;
    f.project.write("ws/a.md", "");
    f.project.write("ws/docs/b.md", "");
    f.project.write("ws/docs/deep/c.md", "");
    f.project.write("ws/x.txt", "");
    CHECK(f.call("glob", {{"pattern", "*.md"}}).text == "a.md\n");
    CHECK(f.call("glob", {{"pattern", "**/*.md"}}).text == "a.md\ndocs/b.md\ndocs/deep/c.md\n");
    CHECK(f.call("glob", {{"pattern", "docs/*.md"}}).text == "docs/b.md\n");
    CHECK(f.call("glob", {{"pattern", "*.zip"}}).text == "No files match *.zip");
  }

  TEST_CASE("grep finds lines, filters by include and rejects bad regexes") {
    Fixture f;
    f.project.write("ws/a.txt", "alpha\nbeta\n");
    f.project.write("ws/b.md", "alphabet\n");
    CHECK(f.call("grep", {{"pattern", "alpha"}}).text == "a.txt:1: alpha\nb.md:1: alphabet\n");
    CHECK(f.call("grep", {{"pattern", "alpha"}, {"include", "*.md"}}).text == "b.md:1: alphabet\n");
    CHECK(f.call("grep", {{"pattern", "("}}).is_error);
    CHECK(f.call("grep", {{"pattern", "zzz"}}).text == "No matches");
  }

  TEST_CASE("grep bounds the pattern and the part of a line it matches") {
    Fixture f;
    // 4 MB on one line: libstdc++'s recursive matcher overflowed the stack on such a line with
    // this pattern; only its first 2 KiB are matched now (and the line is never held whole).
    std::string huge(4u << 20, 'a');
    for (std::size_t i = 1; i < huge.size(); i += 2) huge[i] = 'b';
    f.project.write("ws/huge.txt", huge + "c\nnext\n");
    const auto out = f.call("grep", {{"pattern", "(a|b)*c"}});
    CHECK_FALSE(out.is_error);
    CHECK(out.text == "No matches"); // the `c` lies past the matched prefix
    CHECK(f.call("grep", {{"pattern", "next"}}).text == "huge.txt:2: next\n");
    CHECK(f.call("grep", {{"pattern", std::string(600, 'x')}}).is_error);
  }

  TEST_CASE("file tools under a grant: read inside, refuse beside it naming the grant") {
    Fixture f;
    f.project.write("ws/customers/acme/notes.txt", "acme notes\n");
    f.project.write("ws/customers/globex/secret.txt", "globex secret\n");
    f.project.write("ws/top.txt", "top secret\n");
    f.workspace.confine({"customers/acme"});
    CHECK(f.call("read_file", {{"path", "customers/acme/notes.txt"}}).text == "acme notes\n");
    const auto denied = f.call("read_file", {{"path", "customers/globex/secret.txt"}});
    CHECK(denied.is_error);
    CHECK(denied.text.find("workspace grant (customers/acme)") != std::string::npos);
    CHECK(f.call("read_file", {{"path", "customers/acme/../globex/secret.txt"}}).is_error);
    CHECK(f.call("write_file", {{"path", "top2.txt"}, {"content", "x"}}).is_error);
    CHECK_FALSE(f.call("write_file", {{"path", "customers/acme/new.txt"}, {"content", "x"}}).is_error);
    // walkers from the root list and search only the granted subtree
    CHECK(f.call("glob", {{"pattern", "**/*.txt"}}).text ==
          "customers/acme/new.txt\ncustomers/acme/notes.txt\n");
    CHECK(f.call("grep", {{"pattern", "secret"}}).text == "No matches");
    CHECK(f.call("grep", {{"pattern", "secret"}, {"path", "customers/globex"}}).is_error);
  }

  TEST_CASE("walkers never follow a symlink out of the workspace or beside the grant") {
    Fixture f;
    f.project.write("outside.txt", "outside secret\n");
    f.project.write("ws/customers/globex/secret.txt", "globex secret\n");
    f.project.mkdir("ws/customers/acme");
    std::filesystem::create_symlink(f.project.root() / "outside.txt",
                                    f.project.root() / "ws/customers/acme/out.txt");
    std::filesystem::create_symlink(f.project.root() / "ws/customers/globex/secret.txt",
                                    f.project.root() / "ws/customers/acme/beside.txt");
    // unconfined: the link out of the workspace is not read; the one inside is
    CHECK(f.call("grep", {{"pattern", "secret"}}).text ==
          "customers/acme/beside.txt:1: globex secret\n"
          "customers/globex/secret.txt:1: globex secret\n");
    f.workspace.confine({"customers/acme"});
    CHECK(f.call("grep", {{"pattern", "secret"}}).text == "No matches");
    CHECK(f.call("glob", {{"pattern", "**"}}).text == "No files match **");
  }
}

#include "config/env_file.hpp"
#include "core/error.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace hearth::config;

namespace {
std::string value_of(const std::vector<EnvEntry>& entries, const std::string& key) {
  for (const auto& e : entries)
    if (e.key == key) return e.value;
  return "<unset>";
}
std::string parse_error(std::string_view text) {
  try {
    parse_env(text, ".env");
  } catch (const hearth::Error& e) {
    return e.info().message;
  }
  return "";
}
} // namespace

TEST_SUITE("config") {
  TEST_CASE("env parser handles plain, quoted, exported and commented lines") {
    const auto entries = parse_env("# comment\n"
                                   "PLAIN=value\n"
                                   "export EXPORTED=yes\n"
                                   "SPACED = padded value  \n"
                                   "TRAILING=abc # a comment\n"
                                   "HASH=a#b\n"
                                   "EMPTY=\n"
                                   "SINGLE='literal \\n $x'\n"
                                   "DOUBLE=\"line1\\nline2\\t\\\"q\\\"\"\n"
                                   "MULTI=\"first\nsecond\"\n"
                                   "BACKTICK=`it's`\n"
                                   "\r\n"
                                   "CRLF=v\r\n",
                                   ".env");
    CHECK(value_of(entries, "PLAIN") == "value");
    CHECK(value_of(entries, "EXPORTED") == "yes");
    CHECK(value_of(entries, "SPACED") == "padded value");
    CHECK(value_of(entries, "TRAILING") == "abc");
    CHECK(value_of(entries, "HASH") == "a#b");
    CHECK(value_of(entries, "EMPTY") == "");
    CHECK(value_of(entries, "SINGLE") == "literal \\n $x");
    CHECK(value_of(entries, "DOUBLE") == "line1\nline2\t\"q\"");
    CHECK(value_of(entries, "MULTI") == "first\nsecond");
    CHECK(value_of(entries, "BACKTICK") == "it's");
    CHECK(value_of(entries, "CRLF") == "v");
  }

  TEST_CASE("env parser records line numbers") {
    const auto entries = parse_env("\n# x\nA=1\nB=\"two\nlines\"\nC=3\n", ".env");
    REQUIRE(entries.size() == 3);
    CHECK(entries[0].line == 3);
    CHECK(entries[1].line == 4);
    CHECK(entries[2].line == 6);
  }

  TEST_CASE("env parser errors name the file and line") {
    CHECK(parse_error("A=1\nnot a line\n").find(".env:2") != std::string::npos);
    CHECK(parse_error("A=\"open\n").find("unterminated") != std::string::npos);
    CHECK(parse_error("=value\n").find(".env:1") != std::string::npos);
    CHECK(parse_error("A='x' junk\n").find("after the closing quote") != std::string::npos);
  }

  TEST_CASE("env parser survives garbage without crashing") {
    const std::string samples[] = {std::string("\0\0\0", 3), "\xff\xfe", "A=\"\\", "export",
                                   "export =", "'", "A=`", "\n\n\n=", "A=\"x\"#", "A B=C"};
    for (const auto& s : samples) {
      try {
        parse_env(s, ".env");
      } catch (const hearth::Error&) {
      }
    }
  }

  TEST_CASE("env files are found highest precedence first") {
    TempProject project;
    project.write(".env", "A=env\n");
    project.write(".env.local", "A=local\n");
    project.write(".env.development.local", "A=devlocal\n");
    const auto files = env_files(project.root(), {}, project.root());
    REQUIRE(files.size() == 3);
    CHECK(files[0].filename() == ".env.development.local");
    CHECK(files[1].filename() == ".env.local");
    CHECK(files[2].filename() == ".env");
  }

  TEST_CASE("--env selects one file, which must exist, and only once") {
    TempProject project;
    project.write(".env", "A=1\n");
    project.write("staging.env", "A=2\n");
    const auto files = env_files(project.root(), {"staging.env"}, project.root());
    REQUIRE(files.size() == 1);
    CHECK(files[0] == project.root() / "staging.env");
    CHECK_THROWS_AS(env_files(project.root(), {"missing.env"}, project.root()), hearth::Error);
    CHECK_THROWS_AS(env_files(project.root(), {"a", "b"}, project.root()), hearth::Error);
  }

  TEST_CASE("shell values win and higher-precedence files win") {
    TempProject project;
    project.write(".env.local", "HEARTH_T_ONE=local\n");
    project.write(".env", "HEARTH_T_ONE=env\nHEARTH_T_TWO=env\nHEARTH_T_SHELL=file\n");
    ::setenv("HEARTH_T_SHELL", "shell", 1);
    ::unsetenv("HEARTH_T_ONE");
    ::unsetenv("HEARTH_T_TWO");
    apply_env_files(env_files(project.root(), {}, project.root()));
    CHECK(std::string(std::getenv("HEARTH_T_ONE")) == "local");
    CHECK(std::string(std::getenv("HEARTH_T_TWO")) == "env");
    CHECK(std::string(std::getenv("HEARTH_T_SHELL")) == "shell");
    ::unsetenv("HEARTH_T_ONE");
    ::unsetenv("HEARTH_T_TWO");
    ::unsetenv("HEARTH_T_SHELL");
  }
}

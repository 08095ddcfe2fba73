#include "config/config.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <functional>
#include <string_view>

using namespace hearth::config;
namespace stdfs = std::filesystem;

namespace {
std::string error_of(const ProjectFlags& flags, const stdfs::path& cwd) {
  try {
    resolve(flags, cwd);
  } catch (const hearth::Error& e) {
    return e.info().message;
  }
  return "";
}
} // namespace

TEST_SUITE("config") {
  TEST_CASE("defaults apply with no hearth.json and no flags") {
    TempProject project;
    const auto p = resolve({}, project.root());
    CHECK(p.root == project.root());
    CHECK(p.source_root == project.root());
    CHECK(p.output == project.root() / "dist");
    CHECK(p.name == project.root().filename().string());
    CHECK(p.port == 3583);
    CHECK(p.host == "127.0.0.1");
    CHECK(p.model.empty());
    CHECK(p.store.kind == StoreConfig::Kind::sqlite);
    CHECK(p.store.path == project.root() / ".hearth" / "state.db");
    CHECK_FALSE(p.config_file.has_value());
  }

  TEST_CASE("src/ becomes the source root when it exists") {
    TempProject project;
    project.mkdir("src");
    CHECK(resolve({}, project.root()).source_root == project.root() / "src");
  }

  TEST_CASE(".flue/ wins over src/ as the source root (Flue's resolveSourceRoot)") {
    TempProject project;
    project.mkdir("src");
    project.mkdir(".flue");
    CHECK(resolve({}, project.root()).source_root == project.root() / ".flue");
  }

  TEST_CASE("docs/providers.md's example hearth.json is valid; a built-in id needs no api") {
    const auto doc = hearth::fs::read_file(std::string(HEARTH_SOURCE_DIR) + "/docs/providers.md");
    const auto start = doc.find("```json\n");
    REQUIRE(start != std::string::npos);
    const auto end = doc.find("```", start + 8);
    TempProject project;
    project.write("hearth.json", doc.substr(start + 8, end - start - 8));
    const auto p = resolve({}, project.root());
    CHECK(p.providers.at("openai").api.empty()); // the built-in's, overridden field by field
    CHECK(p.providers.at("openai").base_url == "https://eu.api.openai.com/v1");
    CHECK(p.providers.at("work-claude").api == "anthropic-messages");
    project.write("hearth.json", R"({"providers": {"mine": {"baseUrl": "http://127.0.0.1:9/v1"}}})");
    CHECK(error_of({}, project.root()).find("api") != std::string::npos); // a new id needs one
  }

  TEST_CASE("flags override hearth.json, which overrides defaults") {
    TempProject project;
    project.write("hearth.json", R"({"name": "weather", "model": "openai/gpt-4o", "port": 4000,
                                     "host": "0.0.0.0", "output": "build"})");
    SUBCASE("file values") {
      const auto p = resolve({}, project.root());
      CHECK(p.name == "weather");
      CHECK(p.model == "openai/gpt-4o");
      CHECK(p.port == 4000);
      CHECK(p.host == "0.0.0.0");
      CHECK(p.output == project.root() / "build");
      CHECK(p.config_file == project.root() / "hearth.json");
    }
    SUBCASE("flags win") {
      ProjectFlags flags{.output = "out", .port = 5000, .host = "127.0.0.2"};
      const auto p = resolve(flags, project.root());
      CHECK(p.port == 5000);
      CHECK(p.host == "127.0.0.2");
      CHECK(p.output == project.root() / "out");
      CHECK(p.name == "weather");
    }
  }

  TEST_CASE("relative paths: file values from the file's directory, flags from cwd") {
    TempProject project;
    project.write("conf/hearth.json", R"({"output": "../artifacts", "store": "sqlite:db/state.db"})");
    project.mkdir("app");
    const stdfs::path cwd = project.mkdir("elsewhere");
    ProjectFlags flags{.root = "../app", .config = "../conf/hearth.json"};
    const auto p = resolve(flags, cwd);
    CHECK(p.root == project.root() / "app");
    CHECK(p.output == project.root() / "artifacts");
    CHECK(p.store.path == project.root() / "conf" / "db" / "state.db");
    CHECK(p.config_file == project.root() / "conf" / "hearth.json");
    ProjectFlags out_flag{.root = "../app", .output = "dist2"};
    CHECK(resolve(out_flag, cwd).output == cwd / "dist2");
  }

  TEST_CASE("--config without --root makes the file's directory the root") {
    TempProject project;
    project.write("proj/hearth.json", R"({"name": "x"})");
    const auto p = resolve({.config = "proj/hearth.json"}, project.root());
    CHECK(p.root == project.root() / "proj");
  }

  TEST_CASE("--root is the hearth.json search directory") {
    TempProject project;
    project.write("app/hearth.json", R"({"name": "from-root"})");
    CHECK(resolve({.root = "app"}, project.root()).name == "from-root");
  }

  TEST_CASE("a missing --config file is an error") {
    TempProject project;
    CHECK(error_of({.config = "nope.json"}, project.root()).find("Config file not found") == 0);
  }

  TEST_CASE("strict schema errors name the file and the field") {
    TempProject project;
    const auto file = (project.root() / "hearth.json").string();
    SUBCASE("unknown key") {
      project.write("hearth.json", R"({"target": "node"})");
      const auto msg = error_of({}, project.root());
      CHECK(msg.find(file) != std::string::npos);
      CHECK(msg.find("unknown key \"target\"") != std::string::npos);
    }
    SUBCASE("string port") {
      project.write("hearth.json", R"({"port": "3000"})");
      const auto msg = error_of({}, project.root());
      CHECK(msg.find(file) != std::string::npos);
      CHECK(msg.find("/port") != std::string::npos);
    }
    SUBCASE("empty output") {
      project.write("hearth.json", R"({"output": ""})");
      const auto msg = error_of({}, project.root());
      CHECK(msg.find("/output") != std::string::npos);
      CHECK(msg.find("must not be empty") != std::string::npos);
    }
    SUBCASE("provider with an unknown api") {
      project.write("hearth.json", R"({"providers": {"local": {"api": "grpc"}}})");
      CHECK(error_of({}, project.root()).find("/providers/local/api") != std::string::npos);
    }
    SUBCASE("not an object") {
      project.write("hearth.json", "[1, 2]");
      CHECK(error_of({}, project.root()).find("must be a JSON object") != std::string::npos);
    }
    SUBCASE("syntax error with line and column") {
      project.write("hearth.json", "{\n  \"port\": 3000,\n}\n");
      const auto msg = error_of({}, project.root());
      CHECK(msg.find(file + ":3:") != std::string::npos);
    }
  }

  TEST_CASE("output may not be the project root or the source root") {
    TempProject project;
    project.write("hearth.json", R"({"output": "."})");
    CHECK(error_of({}, project.root()).find("resolves to the project root") != std::string::npos);
    project.write("hearth.json", R"({"output": "src"})");
    project.mkdir("src");
    CHECK(error_of({}, project.root()).find("resolves to the source root") != std::string::npos);
    CHECK(error_of({.output = "./"}, project.root()).find("project root") != std::string::npos);
  }

  TEST_CASE("providers and the memory store are read") {
    TempProject project;
    project.write("hearth.json", R"({"store": "memory:", "providers": {"local": {
      "api": "openai-chat", "baseUrl": "http://127.0.0.1:9/v1", "apiKeyEnv": "LOCAL_KEY",
      "headers": {"X-Team": "a"}}}})");
    const auto p = resolve({}, project.root());
    CHECK(p.store.kind == StoreConfig::Kind::memory);
    REQUIRE(p.providers.count("local") == 1);
    CHECK(p.providers.at("local").api == "openai-chat");
    CHECK(p.providers.at("local").base_url == "http://127.0.0.1:9/v1");
    CHECK(p.providers.at("local").api_key_env == "LOCAL_KEY");
    CHECK(p.providers.at("local").headers.at("X-Team") == "a");
  }

  TEST_CASE("a PostgreSQL store comes from hearth.json, else from DATABASE_URL") {
    TempProject project;
    ::setenv("DATABASE_URL", "postgres://env@db/hearth", 1);
    auto p = resolve({}, project.root()); // no hearth.json store: DATABASE_URL
    CHECK(p.store.kind == StoreConfig::Kind::postgres);
    CHECK(p.store.location() == "postgres://env@db/hearth");
    project.write("hearth.json", R"({"store": "postgresql://file@db/hearth"})");
    p = resolve({}, project.root()); // hearth.json wins
    CHECK(p.store.location() == "postgresql://file@db/hearth");
    project.write("hearth.json", R"({"store": "sqlite:x.db"})");
    CHECK(resolve({}, project.root()).store.kind == StoreConfig::Kind::sqlite);
    project.write("hearth.json", "{}");
    ::setenv("DATABASE_URL", "mysql://other@db/app", 1); // not PostgreSQL: ignored
    p = resolve({}, project.root());
    CHECK(p.store.kind == StoreConfig::Kind::sqlite);
    CHECK(p.store.location() == "sqlite:" + (project.root() / ".hearth" / "state.db").string());
    ::unsetenv("DATABASE_URL");
  }

  TEST_CASE("a text that validated is remembered in the user's cache, never an invalid one") {
    TempProject cache;
    const char* saved = std::getenv("XDG_CACHE_HOME");
    const std::string previous = saved ? saved : "";
    ::setenv("XDG_CACHE_HOME", cache.root().c_str(), 1);
    const auto memo = cache.root() / "hearth" / "validated-config";
    const auto entries = [&] {
      std::error_code ec;
      std::size_t n = 0;
      for (auto it = stdfs::directory_iterator(memo, ec); !ec && it != stdfs::directory_iterator();
           it.increment(ec))
        ++n;
      return n;
    };
    const stdfs::path file = cache.root() / "hearth.json";

    SUBCASE("valid: remembered once, and the remembered text parses the same") {
      const std::string text = R"({"name": "memo", "port": 4000})";
      CHECK(parse_config(text, file).port == 4000);
      CHECK(entries() == 1);
      CHECK((stdfs::status(memo).permissions() & stdfs::perms::group_write) == stdfs::perms::none);
      const auto again = parse_config(text, file);
      CHECK(again.port == 4000);
      CHECK(again.name == "memo");
      CHECK(entries() == 1);
    }
    SUBCASE("invalid: rejected every time and never remembered") {
      const std::string text = R"({"port": "not a number"})";
      for (int i = 0; i < 2; ++i) CHECK_THROWS_AS(parse_config(text, file), hearth::Error);
      CHECK(entries() == 0);
    }
    SUBCASE("a memo planted where others can write is not trusted") {
      const std::string bad = R"({"nme": "typo"})";
      // The name parse_config would look for: the hash of version, schema and text.
      std::string key = std::string(HEARTH_VERSION) + '\0' + std::string(config_schema()) + '\0' + bad;
      char name[17];
      std::snprintf(name, sizeof name, "%016zx", std::hash<std::string_view>{}(key));
      stdfs::create_directories(memo);
      std::ofstream(memo / name) << "";
      stdfs::permissions(memo, stdfs::perms::all); // 0777: anyone could have put it there
      CHECK_THROWS_AS(parse_config(bad, file), hearth::Error);
      CHECK(parse_config(R"({"name": "ok"})", file).name == "ok");
      CHECK(entries() == 1); // nothing is written to an untrusted place
      stdfs::permissions(memo, stdfs::perms::owner_all); // 0700: now the planted memo counts
      CHECK_NOTHROW(parse_config(bad, file));
    }
    SUBCASE("the cache is bounded") {
      for (int i = 0; i < 140; ++i)
        parse_config(R"({"port": )" + std::to_string(2000 + i) + "}", file);
      CHECK(entries() <= 128);
      CHECK(entries() >= 1);
    }
    if (saved) ::setenv("XDG_CACHE_HOME", previous.c_str(), 1);
    else ::unsetenv("XDG_CACHE_HOME");
  }
}

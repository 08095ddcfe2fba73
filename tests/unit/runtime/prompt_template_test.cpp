#include "core/error.hpp"
#include "runtime/prompt_template.hpp"

#include <doctest/doctest.h>

using hearth::runtime::render_template;
using nlohmann::json;

TEST_SUITE("runtime") {
  TEST_CASE("templates substitute payload paths") {
    const json payload = {{"name", "World"}, {"n", 3}, {"user", {{"tags", {"a", "b"}}}}};
    CHECK(render_template("Greet {{payload.name}}.", payload, "hello") == "Greet World.");
    CHECK(render_template("{{ payload.n }}x", payload, "hello") == "3x");
    CHECK(render_template("{{payload.user.tags.1}}", payload, "hello") == "b");
    CHECK(render_template("{{payload.user.tags}}", payload, "hello") == R"(["a","b"])");
    CHECK(render_template("all: {{payload}}", json::object(), "hello") == "all: {}");
    CHECK(render_template("literal \\{{payload.name}}", payload, "hello") ==
          "literal {{payload.name}}");
    CHECK(render_template("no braces } {", payload, "hello") == "no braces } {");
  }

  TEST_CASE("a missing key names the path") {
    try {
      render_template("Hi {{payload.user.email}}", json{{"user", json::object()}}, "hello");
      FAIL("expected an error");
    } catch (const hearth::Error& e) {
      CHECK(e.info().message.find("payload.user.email") != std::string::npos);
      CHECK(e.info().message.find("hello") != std::string::npos);
    }
  }

  TEST_CASE("malformed templates are errors") {
    CHECK_THROWS_AS(render_template("{{payload.name", json::object(), "w"), hearth::Error);
    CHECK_THROWS_AS(render_template("{{env.HOME}}", json::object(), "w"), hearth::Error);
    CHECK_THROWS_AS(render_template("{{payload.list.99}}", json{{"list", {1}}}, "w"),
                    hearth::Error);
  }
}

// The segment router and request-target splitting: literal and `:param` segments, 405 with Allow,
// Eve-style method-specific routes, decoded parameters and the parameter length bound.
#include "server/http.hpp"

#include <doctest/doctest.h>

#include <string>

using hearth::server::Request;
using hearth::server::Response;
using hearth::server::Router;

namespace {

Router sample() {
  Router r;
  r.add("/runs/:runId", {"GET", "HEAD"}, [](const Request&, Response& res) { res.status = 1; });
  r.add("/agents/:name/:id", {"GET", "POST"}, [](const Request&, Response& res) { res.status = 2; });
  r.add("/eve/v1/session/:id", {"POST"}, [](const Request&, Response& res) { res.status = 3; },
        false);
  r.add("/eve/v1/session/:id/stream", {"GET"}, [](const Request&, Response& res) { res.status = 4; },
        false);
  return r;
}

} // namespace

TEST_SUITE("server") {
  TEST_CASE("router: params are matched per segment and decoded") {
    const auto r = sample();
    auto m = r.match("GET", "/agents/echo/my%20id%2Fx", 512);
    REQUIRE(m.outcome == Router::Outcome::matched);
    REQUIRE(m.params.size() == 2);
    CHECK(m.params[0] == "echo");
    CHECK(m.params[1] == "my id/x");
    Response res;
    (*m.handler)(Request{}, res);
    CHECK(res.status == 2);
  }

  TEST_CASE("router: HEAD is served by GET, other methods are 405 with the allowed list") {
    const auto r = sample();
    CHECK(r.match("HEAD", "/runs/r1", 512).outcome == Router::Outcome::matched);
    auto m = r.match("DELETE", "/runs/r1", 512);
    CHECK(m.outcome == Router::Outcome::method_not_allowed);
    CHECK(m.allowed == std::vector<std::string>{"GET", "HEAD"});
  }

  TEST_CASE("router: non-strict routes fall through to not_found for other methods") {
    const auto r = sample();
    CHECK(r.match("GET", "/eve/v1/session/abc", 512).outcome == Router::Outcome::not_found);
    CHECK(r.match("GET", "/eve/v1/session/abc/stream", 512).outcome == Router::Outcome::matched);
  }

  TEST_CASE("router: empty segments, extra segments and trailing slashes do not match") {
    const auto r = sample();
    CHECK(r.match("GET", "/runs/", 512).outcome == Router::Outcome::not_found);
    CHECK(r.match("GET", "/runs//", 512).outcome == Router::Outcome::not_found);
    CHECK(r.match("GET", "/runs/a/b", 512).outcome == Router::Outcome::not_found);
    CHECK(r.match("GET", "runs/a", 512).outcome == Router::Outcome::not_found);
    CHECK(r.match("GET", "", 512).outcome == Router::Outcome::not_found);
  }

  TEST_CASE("router: a parameter longer than the bound never matches, whatever the path length") {
    const auto r = sample();
    CHECK(r.match("GET", "/runs/" + std::string(512, 'a'), 512).outcome ==
          Router::Outcome::matched);
    CHECK(r.match("GET", "/runs/" + std::string(513, 'a'), 512).outcome ==
          Router::Outcome::not_found);
    // A million-byte path or a path of 100,000 segments is linear work, no recursion.
    CHECK(r.match("GET", "/runs/" + std::string(1 << 20, 'a'), 512).outcome ==
          Router::Outcome::not_found);
    std::string many;
    for (int i = 0; i < 100000; ++i) many += "/a";
    CHECK(r.match("GET", many, 512).outcome == Router::Outcome::not_found);
  }

  TEST_CASE("split_target: decoded path and query, '+' as space in the query only") {
    std::string raw, path;
    std::vector<std::pair<std::string, std::string>> query;
    REQUIRE(hearth::server::split_target("/a+b/c%41?x=1+2&y&z=%2F&&", raw, path, query));
    CHECK(raw == "/a+b/c%41");
    CHECK(path == "/a+b/cA");
    REQUIRE(query.size() == 3);
    CHECK(query[0] == std::pair<std::string, std::string>{"x", "1 2"});
    CHECK(query[1] == std::pair<std::string, std::string>{"y", ""});
    CHECK(query[2] == std::pair<std::string, std::string>{"z", "/"});
    CHECK_FALSE(hearth::server::split_target("http://h/a", raw, path, query));
    CHECK(hearth::server::url_decode("%zz%4", false) == "%zz%4");
  }
}

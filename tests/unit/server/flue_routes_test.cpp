// Flue 0.11 routes against a live server: admission, run reads, agent prompts, error envelopes.
#include "server/durable_streams.hpp"
#include "server_fixture.hpp"

using nlohmann::json;

namespace {

/// Long-polls the run until its stream closes; returns every event.
json read_run_to_end(httplib::Client& c, const std::string& run_id) {
  json events = json::array();
  std::string offset = "-1";
  for (int i = 0; i < 200; ++i) {
    auto r = c.Get("/runs/" + run_id + "?offset=" + offset + "&live=long-poll");
    REQUIRE(r);
    if (r->status == 200)
      for (const auto& e : json::parse(r->body)) events.push_back(e);
    offset = r->get_header_value("Stream-Next-Offset");
    if (r->get_header_value("Stream-Closed") == "true") return events;
  }
  FAIL("the run never closed");
  return events;
}

} // namespace

TEST_SUITE("server") {
  TEST_CASE("POST /workflows/:name?wait=result answers the result with stream coordinates") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.Post("/workflows/hello?wait=result", R"({"name":"World"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
    const auto body = json::parse(r->body);
    CHECK(body["result"].contains("greeting"));
    const std::string run_id = body["runId"];
    CHECK(run_id.rfind("run_", 0) == 0);
    CHECK(body["_meta"]["runId"] == run_id);
    CHECK(body["offset"] == "-1");
    CHECK(body["streamUrl"] == "http://127.0.0.1:" + std::to_string(f.server->port()) + "/runs/" + run_id);
    CHECK(r->get_header_value("X-Flue-Run-Id") == run_id);
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(r->get_header_value("Cross-Origin-Resource-Policy") == "cross-origin");

    auto read = c.Get("/runs/" + run_id);
    REQUIRE(read);
    CHECK(read->status == 200);
    const auto events = json::parse(read->body);
    REQUIRE(events.size() > 5);
    CHECK(events.front()["type"] == "run_start");
    CHECK(events.back()["type"] == "run_end");
    CHECK(read->get_header_value("Stream-Next-Offset") ==
          hearth::store::format_offset(static_cast<std::int64_t>(events.size()) - 1));
    CHECK(read->get_header_value("Stream-Up-To-Date") == "true");
    CHECK(read->get_header_value("Stream-Closed") == "true");
    CHECK(read->get_header_value("cache-control") == "no-store");
    const auto etag = read->get_header_value("ETag");
    CHECK(etag == hearth::server::stream_etag("runs/" + run_id, "-1",
                                              read->get_header_value("Stream-Next-Offset"), true));
    auto cached = c.Get("/runs/" + run_id, {{"If-None-Match", etag}});
    REQUIRE(cached);
    CHECK(cached->status == 304);

    auto head = c.Head("/runs/" + run_id);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->body.empty());
    CHECK(head->get_header_value("Stream-Closed") == "true");

    auto meta = c.Get("/runs/" + run_id + "?meta");
    CHECK(body_json(meta)["status"] == "completed");
    CHECK(body_json(meta)["runId"] == run_id);

    auto mid = c.Get("/runs/" + run_id + "?offset=" + hearth::store::format_offset(
                                                         static_cast<std::int64_t>(events.size()) - 3));
    CHECK(body_json(mid).size() == 2);
    auto tail = c.Get("/runs/" + run_id + "?offset=-1&tail=1");
    REQUIRE(body_json(tail).size() == 1);
    CHECK(body_json(tail)[0]["type"] == "run_end");
    auto closed = c.Get("/runs/" + run_id + "?offset=" + read->get_header_value("Stream-Next-Offset") +
                        "&live=long-poll");
    REQUIRE(closed);
    CHECK(closed->status == 204);
    CHECK(closed->get_header_value("Stream-Closed") == "true");
    CHECK(!closed->get_header_value("Stream-Cursor").empty());
  }

  TEST_CASE("a 202 admission runs in the background and the run is readable live") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.Post("/workflows/hello", R"({"name":"Ada"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 202);
    const auto body = json::parse(r->body);
    const std::string run_id = body["runId"];
    CHECK(body["status"] == "accepted");
    CHECK(body["offset"] == "-1");
    CHECK(r->get_header_value("Location") == body["streamUrl"]);
    CHECK(r->get_header_value("Stream-Next-Offset") == "-1");
    const auto events = read_run_to_end(c, run_id);
    CHECK(events.back()["type"] == "run_end");
    CHECK(events.back()["isError"] == false);
  }

  TEST_CASE("an empty body is the payload {} and a throwing workflow only errors its run") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.Post("/workflows/boom", "", "");
    REQUIRE(r);
    CHECK(r->status == 202);
    const std::string run_id = json::parse(r->body)["runId"];
    const auto events = read_run_to_end(c, run_id);
    CHECK(events.back()["isError"] == true);
    auto meta = c.Get("/runs/" + run_id + "?meta");
    CHECK(body_json(meta)["status"] == "errored");
    CHECK(body_json(meta)["error"]["type"] == "internal_error");
    auto wait = c.Post("/workflows/boom?wait=result", "{}", "application/json");
    REQUIRE(wait);
    CHECK(wait->status == 500);
    CHECK(json::parse(wait->body)["error"]["type"] == "internal_error");
    auto health = c.Get("/eve/v1/health"); // still serving
    REQUIRE(health);
    CHECK(health->status == 200);
  }

  TEST_CASE("workflow errors use Flue's envelope, with dev only in dev mode") {
    SUBCASE("production") {
      ServerFixture f;
      auto c = f.client();
      auto r = c.Post("/workflows/nosuch", "{}", "application/json");
      REQUIRE(r);
      CHECK(r->status == 404);
      const auto e = json::parse(r->body)["error"];
      CHECK(e["type"] == "workflow_not_found");
      CHECK(e["message"] == "Workflow \"nosuch\" is not registered.");
      CHECK(!e.contains("dev"));
      CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
      auto internal = c.Post("/workflows/internal", "{}", "application/json");
      CHECK(internal->status == 404); // not HTTP-exposed
    }
    SUBCASE("dev") {
      ServerFixture f({.dev = true});
      auto c = f.client();
      auto r = c.Post("/workflows/nosuch", "{}", "application/json");
      const auto e = json::parse(r->body)["error"];
      CHECK(e["dev"].get<std::string>().find("\"boom\", \"hello\"") != std::string::npos);
      CHECK(e["dev"].get<std::string>().find("internal") == std::string::npos);
    }
    ServerFixture f;
    auto c = f.client();
    auto bad = c.Post("/workflows/hello", "{bad", "application/json");
    CHECK(bad->status == 400);
    CHECK(json::parse(bad->body)["error"]["type"] == "invalid_json");
    auto wait = c.Post("/workflows/hello?wait=bogus", "{}", "application/json");
    CHECK(wait->status == 400);
    CHECK(json::parse(wait->body)["error"]["type"] == "invalid_request");
    auto text = c.Post("/workflows/hello", "x", "text/plain");
    CHECK(text->status == 415);
    CHECK(json::parse(text->body)["error"]["type"] == "unsupported_media_type");
    auto get = c.Get("/workflows/hello");
    CHECK(get->status == 405);
    CHECK(get->get_header_value("Allow") == "POST");
    CHECK(json::parse(get->body)["error"]["message"] ==
          "HTTP method GET is not allowed on this endpoint.");
    auto run_post = c.Post("/runs/run_X", "", "");
    CHECK(run_post->status == 405);
    CHECK(run_post->get_header_value("Allow") == "GET, HEAD");
    auto put = c.Put("/agents/assistant/t1", "{}", "application/json");
    CHECK(put->status == 405);
    CHECK(put->get_header_value("Allow") == "GET, HEAD, POST");
    CHECK(json::parse(put->body)["error"]["details"] ==
          "This endpoint accepts \"GET\", \"HEAD\", \"POST\" only.");
    auto missing = c.Get("/runs/run_01NOPE");
    CHECK(missing->status == 404);
    CHECK(json::parse(missing->body)["error"]["type"] == "run_not_found");
    auto root = c.Get("/");
    CHECK(root->status == 404);
    CHECK(root->get_header_value("X-Content-Type-Options") == "nosniff");
  }

  TEST_CASE("stream query errors are invalid_request with Flue's details") {
    ServerFixture f;
    auto c = f.client();
    const std::string run_id =
        body_json(c.Post("/workflows/hello?wait=result", R"({"name":"x"})", "application/json"))["runId"];
    const auto details = [&](const std::string& query) {
      auto r = c.Get("/runs/" + run_id + query);
      REQUIRE(r);
      CHECK(r->status == 400);
      return json::parse(r->body)["error"]["details"].get<std::string>();
    };
    CHECK(details("?offset=abc") == "Invalid offset format.");
    CHECK(details("?offset=-1&live=bogus") == "Invalid live mode. Use \"long-poll\" or \"sse\".");
    CHECK(details("?live=sse") == "Offset is required for live mode.");
    CHECK(body_json(c.Get("/runs/" + run_id + "?offset=0000000000000000_0000000000099999")).empty());
  }

  TEST_CASE("SSE reads send data and control frames and end on a closed stream") {
    ServerFixture f;
    auto c = f.client();
    const std::string run_id =
        body_json(c.Post("/workflows/hello?wait=result", R"({"name":"x"})", "application/json"))["runId"];
    auto r = c.Get("/runs/" + run_id + "?offset=-1&live=sse");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type") == "text/event-stream");
    CHECK(r->get_header_value("cache-control") == "no-cache");
    CHECK(r->body.rfind("event: data\ndata:[", 0) == 0);
    CHECK(r->body.find("event: control\ndata:{\"streamNextOffset\":\"0000000000000000_") !=
          std::string::npos);
  }

  TEST_CASE("SSE ends with a closed control frame") {
    ServerFixture f;
    auto c = f.client();
    const std::string run_id =
        body_json(c.Post("/workflows/hello?wait=result", R"({"name":"x"})", "application/json"))["runId"];
    auto r = c.Get("/runs/" + run_id + "?offset=-1&live=sse");
    REQUIRE(r);
    const auto tail = r->body.substr(r->body.rfind("event: control"));
    CHECK(tail.find("\"streamClosed\":true}\n\n") != std::string::npos);
    CHECK(tail.find("streamCursor") == std::string::npos);
  }

  TEST_CASE("agent prompts: 202 and wait=result, stream reads, unknown ids and bad bodies") {
    ServerFixture f;
    auto c = f.client();
    auto never = c.Get("/agents/assistant/t1");
    CHECK(never->status == 404);
    CHECK(json::parse(never->body)["error"]["type"] == "stream_not_found");
    CHECK(json::parse(never->body)["error"]["message"] ==
          "Event stream \"agents/assistant/t1\" was not found.");
    auto first = c.Post("/agents/assistant/t1?wait=result", R"({"message":"Hello agent"})",
                        "application/json");
    REQUIRE(first);
    CHECK(first->status == 200);
    auto body = json::parse(first->body);
    CHECK(body["result"]["text"] == "Hello agent");
    CHECK(body["offset"] == "-1");
    CHECK(body["streamUrl"].get<std::string>().find("/agents/assistant/t1") != std::string::npos);
    auto second = c.Post("/agents/assistant/t1", R"({"message":"again"})", "application/json");
    REQUIRE(second);
    CHECK(second->status == 202);
    body = json::parse(second->body);
    CHECK(body["offset"] != "-1");
    CHECK(body["submissionId"].get<std::string>().rfind("sub_", 0) == 0);
    CHECK(second->get_header_value("Stream-Next-Offset") == body["offset"]);
    auto read = c.Get("/agents/assistant/t1");
    CHECK(read->status == 200);
    CHECK(read->get_header_value("Stream-Closed").empty());
    auto unknown = c.Post("/agents/nobody/t1", R"({"message":"x"})", "application/json");
    CHECK(unknown->status == 404);
    CHECK(json::parse(unknown->body)["error"]["type"] == "agent_not_found");
    auto hidden = c.Get("/agents/hidden/t1");
    CHECK(hidden->status == 404);
    auto bad = c.Post("/agents/assistant/t1", R"({"kind":"user","body":"x"})", "application/json");
    CHECK(bad->status == 400);
    CHECK(json::parse(bad->body)["error"]["details"] ==
          "Direct agent requests must use JSON object body { \"message\": string, \"images\"?: image[] }.");
  }

  TEST_CASE("GET /openapi.json lists the exposed invocation routes") {
    ServerFixture f;
    auto c = f.client();
    const auto doc = body_json(c.Get("/openapi.json"));
    CHECK(doc["openapi"] == "3.1.0");
    CHECK(doc["paths"].contains("/workflows/{name}"));
    CHECK(doc["paths"].contains("/agents/{name}/{id}"));
    const auto names = doc["paths"]["/workflows/{name}"]["post"]["parameters"][0]["schema"]["enum"];
    CHECK(names == json({"boom", "hello"}));
  }

  TEST_CASE("a body over the limit gets 413 in the caller's envelope") {
    ServerFixture f({.max_body_bytes = 1024});
    auto c = f.client();
    auto r = c.Post("/workflows/hello", std::string(4096, ' '), "application/json");
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(json::parse(r->body)["error"]["type"] == "payload_too_large");
  }
}

// Eve 0.80.1 routes against a live server: sessions, follow-ups, NDJSON stream reads, controls.
#include "server_fixture.hpp"

#include <atomic>
#include <sstream>
#include <thread>

using nlohmann::json;

namespace {

std::vector<json> ndjson(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::vector<std::string> types(const std::vector<json>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e["type"]);
  return out;
}

/// Bounded reads until `count` session.waiting events are on the stream (deadline 20 s).
std::vector<json> read_until_waiting(httplib::Client& c, const std::string& id, int count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.Get("/eve/v1/session/" + id + "/stream?startIndex=0&follow=false");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    const auto events = ndjson(r->body);
    int waiting = 0;
    for (const auto& e : events) waiting += e["type"] == "session.waiting";
    if (waiting >= count) return events;
    std::this_thread::yield();
  }
  FAIL("the session never reached session.waiting");
  return {};
}

} // namespace

TEST_SUITE("server") {
  TEST_CASE("GET /eve/v1/health and /eve/v1/info") {
    ServerFixture f;
    auto c = f.client();
    auto health = c.Get("/eve/v1/health");
    REQUIRE(health);
    CHECK(json::parse(health->body) ==
          json({{"ok", true}, {"status", "ready"}, {"workflowId", "workflow//eve//workflowEntry"}}));
    auto info = c.Get("/eve/v1/info");
    const auto doc = body_json(info);
    CHECK(doc["kind"] == "eve-agent-info");
    CHECK(doc["agent"]["name"] == "assistant");
    CHECK(doc["agent"]["model"]["id"] == "mock/echo");
    CHECK(info->get_header_value("cache-control") == "no-store");
    CHECK(info->get_header_value("Content-Type") == "application/json; charset=utf-8");
  }

  TEST_CASE("a session's first turn streams Eve's event sequence, ending at session.waiting") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.Post("/eve/v1/session", R"({"message":"What is up?"})", "application/json");
    REQUIRE(r);
    CHECK(r->status == 202);
    const auto created = json::parse(r->body);
    const std::string id = created["sessionId"];
    CHECK(id.rfind("wrun_", 0) == 0);
    CHECK(created["ok"] == true);
    CHECK(created["status"] == "accepted");
    CHECK(!created["continuationToken"].get<std::string>().empty());
    CHECK(r->get_header_value("x-eve-session-id") == id);
    CHECK(r->get_header_value("cache-control") == "no-store");

    const auto events = read_until_waiting(c, id, 1);
    const auto t = types(events);
    REQUIRE(t.size() >= 6);
    CHECK(t[0] == "session.started");
    CHECK(t[1] == "turn.started");
    CHECK(t[2] == "message.received");
    CHECK(t[3] == "step.started");
    CHECK(t.back() == "session.waiting");
    CHECK(t[t.size() - 2] == "turn.completed");
    CHECK(events[2]["data"]["message"] == "What is up?");
    CHECK(events.back()["data"]["continuationToken"] == created["continuationToken"]);
    CHECK(events.back()["data"]["wait"] == "next-user-message");
    bool completed = false;
    for (const auto& e : events) {
      CHECK(e["meta"]["id"].get<std::string>().rfind("evt_", 0) == 0);
      CHECK(e["meta"]["deliveryIds"].size() == 1);
      if (e["type"] == "message.completed") {
        completed = true;
        CHECK(e["data"]["message"] == "What is up?");
      }
    }
    CHECK(completed);

    auto raw = c.Get("/eve/v1/session/" + id + "/stream?follow=false");
    CHECK(raw->body.rfind("\n{\"data\":", 0) == 0); // leading newline, Eve's key order
    CHECK(raw->get_header_value("Content-Type") == "application/x-ndjson; charset=utf-8");
    CHECK(raw->get_header_value("x-eve-stream-version") == "26");
    CHECK(raw->get_header_value("x-eve-stream-format") == "ndjson");
    CHECK(raw->get_header_value("cache-control") == "no-store, no-transform");
    CHECK(raw->get_header_value("x-accel-buffering") == "no");
    CHECK(raw->get_header_value("x-eve-stream-tail-index") == std::to_string(events.size() - 1));
    // Ids are stable across reads, so startIndex reconnects are exact.
    auto from5 = ndjson(c.Get("/eve/v1/session/" + id + "/stream?startIndex=5&follow=false")->body);
    REQUIRE(from5.size() == events.size() - 5);
    CHECK(from5[0] == events[5]);
    auto last = ndjson(c.Get("/eve/v1/session/" + id + "/stream?startIndex=-1&follow=false")->body);
    REQUIRE(last.size() == 1);
    CHECK(last[0]["type"] == "session.waiting");
    auto beyond = c.Get("/eve/v1/session/" + id + "/stream?startIndex=999&follow=false");
    CHECK(beyond->body == "\n");
  }

  TEST_CASE("follow-ups: current or no token accepted, stale token 400, unknown 409 (stream 404)") {
    ServerFixture f;
    auto c = f.client();
    const auto created = body_json(c.Post("/eve/v1/session", R"({"message":"one"})", "application/json"));
    const std::string id = created["sessionId"];
    read_until_waiting(c, id, 1);
    auto plain = c.Post("/eve/v1/session/" + id, R"({"message":"two"})", "application/json");
    REQUIRE(plain);
    CHECK(plain->status == 202);
    const auto accepted = json::parse(plain->body);
    CHECK(accepted["status"] == "accepted");
    CHECK(accepted["deliveryId"].get<std::string>().size() == 36);
    const auto two = read_until_waiting(c, id, 2);
    CHECK(two.back()["meta"]["deliveryIds"][0] == accepted["deliveryId"]);
    json with_token = {{"message", "three"}, {"continuationToken", created["continuationToken"]}};
    CHECK(c.Post("/eve/v1/session/" + id, with_token.dump(), "application/json")->status == 202);
    auto stale = c.Post("/eve/v1/session/" + id, R"({"message":"x","continuationToken":"nope"})",
                        "application/json");
    CHECK(stale->status == 400);
    CHECK(json::parse(stale->body)["ok"] == false);
    auto empty = c.Post("/eve/v1/session/" + id, "{}", "application/json");
    CHECK(empty->status == 400);
    CHECK(json::parse(empty->body) ==
          json({{"ok", false},
                {"error", "Expected a non-empty 'message' or a non-empty 'inputResponses' array."}}));
    auto unknown = c.Post("/eve/v1/session/wrun_01AAAAAAAAAAAAAAAAAAAAAAAA", R"({"message":"x"})",
                          "application/json");
    CHECK(unknown->status == 409); // Eve 0.80.1: session_not_active, even for an unknown id
    CHECK(json::parse(unknown->body)["code"] == "session_not_active");
    CHECK(c.Get("/eve/v1/session/wrun_nope/stream")->status == 404);
    CHECK(c.Get("/eve/v1/session/" + id + "/stream?startIndex=abc")->status == 400);
    CHECK(c.Post("/eve/v1/session", "{not json", "application/json")->status == 400);
    CHECK(json::parse(c.Post("/eve/v1/session", "[1,2]", "application/json")->body)["error"] ==
          "Expected a JSON object.");
    CHECK(c.Post("/eve/v1/session", R"({"message":""})", "application/json")->status == 400);
    CHECK(c.Post("/eve/v1/session", R"({"message":[{"type":"image"}]})", "application/json")->status == 400);
    auto nope = c.Get("/eve/v1/nope");
    CHECK(nope->status == 404);
    CHECK(json::parse(nope->body)["error"] == true);
  }

  TEST_CASE("cancel and reset answer as Eve 0.80.1; a reset session takes no more messages") {
    ServerFixture f;
    auto c = f.client();
    const std::string id =
        body_json(c.Post("/eve/v1/session", R"({"message":"one"})", "application/json"))["sessionId"];
    read_until_waiting(c, id, 1);
    auto cancel = c.Post("/eve/v1/session/" + id + "/cancel", "", "");
    CHECK(cancel->status == 202);
    CHECK(json::parse(cancel->body)["status"] == "accepted");
    auto cancel_unknown = c.Post("/eve/v1/session/wrun_01AAAAAAAAAAAAAAAAAAAAAAAA/cancel", "", "");
    CHECK(cancel_unknown->status == 200);
    CHECK(json::parse(cancel_unknown->body)["status"] == "no_active_turn");
    auto reset = c.Post("/eve/v1/session/" + id + "/reset", R"({"reason":"over"})", "application/json");
    CHECK(reset->status == 200);
    CHECK(json::parse(reset->body) ==
          json({{"ok", true}, {"previousSessionId", id}, {"status", "reset"}}));
    CHECK(json::parse(c.Post("/eve/v1/session/" + id + "/reset", "", "")->body)["status"] ==
          "no_active_session");
    auto after = c.Post("/eve/v1/session/" + id, R"({"message":"x"})", "application/json");
    CHECK(after->status == 409);
    CHECK(json::parse(after->body) == json({{"ok", false}, {"code", "session_not_active"},
                                            {"error", "The session is no longer active."}}));
    // A follow read of a reset session ends after session.completed.
    const auto events = ndjson(c.Get("/eve/v1/session/" + id + "/stream")->body);
    CHECK(events.back()["type"] == "session.completed");
  }

  TEST_CASE("a message-free session parks until its first message") {
    ServerFixture f;
    auto c = f.client();
    const std::string id = body_json(c.Post("/eve/v1/session", "", ""))["sessionId"];
    auto empty = c.Get("/eve/v1/session/" + id + "/stream?follow=false");
    CHECK(empty->body == "\n");
    CHECK(empty->get_header_value("x-eve-stream-tail-index") == "-1");
    CHECK(c.Post("/eve/v1/session/" + id, R"({"message":"first"})", "application/json")->status == 202);
    const auto events = read_until_waiting(c, id, 1);
    CHECK(events[1]["data"]["turnId"] == "turn_0");
  }

  TEST_CASE("a leased follow read sends the lease-ended control line") {
    ServerFixture f({.eve_heartbeat = std::chrono::milliseconds(50),
                     .eve_lease = std::chrono::milliseconds(300)});
    auto c = f.client();
    const std::string id =
        body_json(c.Post("/eve/v1/session", R"({"message":"one"})", "application/json"))["sessionId"];
    read_until_waiting(c, id, 1);
    auto r = c.Get("/eve/v1/session/" + id + "/stream?startIndex=0&streamControlVersion=1");
    REQUIRE(r);
    CHECK(r->body.find("\n\n") != std::string::npos); // a heartbeat after the events
    const std::string lease = "{\"$eve\":\"stream.lease-ended\",\"version\":1}\n";
    CHECK(r->body.size() > lease.size());
    CHECK(r->body.substr(r->body.size() - lease.size()) == lease);
  }
}

TEST_SUITE("server") {
  TEST_CASE("a callback still pending when the server stopped is sent when it starts again") {
    ServerFixture f;
    f.server->shutdown(std::chrono::seconds(10));
    httplib::Server receiver;
    std::atomic<int> pending{0}, done{0};
    receiver.Post("/eve/v1/callback/p", [&](const httplib::Request&, httplib::Response&) { ++pending; });
    receiver.Post("/eve/v1/callback/d", [&](const httplib::Request&, httplib::Response&) { ++done; });
    const int port = receiver.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread thread([&] { receiver.listen_after_bind(); });
    const auto url = [&](const std::string& t) {
      return "http://127.0.0.1:" + std::to_string(port) + "/eve/v1/callback/" + t;
    };
    const std::string outbox = "eve-callbacks/assistant";
    f.store->create_stream(outbox);
    f.store->append(outbox, {.type = "pending", .data = {{"id", "cb_0"}, {"url", url("d")}, {"body", {{"callId", "c0"}}}}});
    f.store->append(outbox, {.type = "pending", .data = {{"id", "cb_1"}, {"url", url("p")}, {"body", {{"callId", "c1"}}}}});
    f.store->append(outbox, {.type = "sent", .data = {{"id", "cb_0"}}}); // delivered before the stop
    hearth::server::ServerOptions options;
    auto open = std::make_shared<hearth::server::auth::Config>();
    open->insecure_no_auth = true;
    options.auth = open;
    options.host = "127.0.0.1";
    options.port = 0;
    f.server = std::make_unique<hearth::server::Server>(*f.runtime, options);
    f.server->start();
    const auto last = [&] {
      const auto info = f.store->stream_info(outbox);
      return f.store->read(outbox, info->last_seq - 1, 1).events.front();
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    const auto cb_1_sent = [&] {
      const auto event = last();
      return event.type == "sent" && event.data.value("id", "") == "cb_1";
    };
    // The receiver counts the POST before the worker appends `sent` for it.
    while ((pending == 0 || !cb_1_sent()) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    receiver.stop();
    thread.join();
    CHECK(pending == 1); // before: the queue lived in memory only, lost at the stop
    CHECK(done == 0);    // a sent one is not sent again
    CHECK(last().type == "sent");
    CHECK(last().data["id"] == "cb_1");
  }
}

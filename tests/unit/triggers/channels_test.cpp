// Channel specs and deliveries: validation, handshakes, media types, conversation keys, the
// dispatch mapping's templates and the scrubbing of short-lived capabilities.
#include "core/error.hpp"
#include "triggers/channels.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace hearth::triggers;
using nlohmann::json;

namespace {

ChannelDef channel(const json& config, const std::string& name = "ch") {
  std::vector<std::string> problems;
  auto def = parse_channel(name, "channels/" + name + ".json", config, problems);
  REQUIRE_MESSAGE(def.has_value(), (problems.empty() ? std::string() : problems[0]));
  return *def;
}

std::vector<std::string> problems_of(const json& config) {
  std::vector<std::string> problems;
  parse_channel("ch", "channels/ch.json", config, problems);
  return problems;
}

struct Headers {
  std::map<std::string, std::string> values;
  HeaderFn fn() const {
    return [this](std::string_view name) {
      for (const auto& [k, v] : values) {
        if (k.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < k.size(); ++i)
          same = same && std::tolower(static_cast<unsigned char>(k[i])) ==
                             std::tolower(static_cast<unsigned char>(name[i]));
        if (same) return v;
      }
      return std::string();
    };
  }
};

int status_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const hearth::Error& e) {
    return e.info().http_status;
  }
  return 200;
}

const json k_github = {{"type", "github"}, {"secretEnv", "GH_SECRET"}};

Headers github_headers(const std::string& body, const std::string& event, const std::string& secret = "s") {
  return {{{"Content-Type", "application/json"},
           {"X-GitHub-Event", event},
           {"X-GitHub-Delivery", "d-1"},
           {"X-Hub-Signature-256", "sha256=" + hmac_hex(Digest::sha256, secret, body)}}};
}

} // namespace

TEST_SUITE("triggers") {
  TEST_CASE("specs: routes per type, default limits, and problems that block serving") {
    const auto slack = channel({{"type", "slack"}, {"secretEnv", "SLACK_SIGNING_SECRET"}});
    REQUIRE(slack.routes.size() == 3);
    CHECK(slack.routes[0].suffix == "/events");
    CHECK(slack.routes[2].suffix == "/commands");
    CHECK(slack.body_limit == 1u << 20);
    const auto gh = channel(k_github);
    REQUIRE(gh.routes.size() == 1);
    CHECK(gh.routes[0].suffix == "/webhook");
    CHECK(gh.body_limit == 25u << 20);
    CHECK(channel({{"type", "slack"}, {"secretEnv", "S"}, {"surfaces", {"events"}}}).routes.size() == 1);
    CHECK(channel({{"type", "webhook"}, {"secretEnv", "S"}, {"path", "/in/hook"},
                   {"signature", {{"header", "X-Sig"}}}}).routes[0].suffix == "/in/hook");
    CHECK_FALSE(problems_of({{"type", "smtp"}, {"secretEnv", "S"}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "no spaces"}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"}, {"bodyLimit", 0}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"}, {"extra", 1}}).empty());
    CHECK_FALSE(problems_of({{"type", "webhook"}, {"secretEnv", "S"}}).empty());
    CHECK_FALSE(problems_of({{"type", "webhook"}, {"secretEnv", "S"}, {"path", "/../x"},
                             {"signature", {{"header", "X-Sig"}}}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"}, {"dispatch", json::object()},
                             {"handler", "./h.py"}}).empty());
    CHECK(is_eve_channel("eve", {{"auth", json::array()}}));
    CHECK_FALSE(is_eve_channel("slack", {{"auth", json::array()}}));
  }

  TEST_CASE("handlers: bounded timeoutMs (default 5 s), declared env names, never the secret") {
    const auto h = channel({{"type", "github"}, {"secretEnv", "S"},
                            {"handler", {{"command", {"./h.py"}}, {"env", {"APP_ID"}}}}});
    CHECK(h.handler_timeout_ms == 5000);
    CHECK(h.handler_env == std::vector<std::string>{"APP_ID"});
    CHECK(channel({{"type", "github"}, {"secretEnv", "S"}, {"handler", "./h.py"}}).handler_env.empty());
    // On the request thread: no 10-minute handlers.
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"},
                             {"handler", {{"command", {"./h.py"}}, {"timeoutMs", 600000}}}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"},
                             {"handler", {{"command", {"./h.py"}}, {"env", {"S"}}}}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"},
                             {"handler", {{"command", {"./h.py"}}, {"env", {"no spaces"}}}}}).empty());
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "S"},
                             {"handler", {{"command", {"./h.py"}}, {"shell", true}}}}).empty());
    // HEARTH_* variables reach every sandboxed command: a secret may never be one.
    CHECK_FALSE(problems_of({{"type", "github"}, {"secretEnv", "HEARTH_GITHUB_SECRET"}}).empty());
  }

  TEST_CASE("GitHub: ping is answered, a wrong signature is 401 before parsing, media types 415") {
    const auto gh = channel(k_github);
    const std::string ping = R"({"zen":"Keep it logically awesome.","hook_id":1})";
    const auto h = github_headers(ping, "ping");
    const auto d = receive(gh, gh.routes[0], h.fn(), ping, "s", 0);
    REQUIRE(d.handshake);
    CHECK((*d.handshake)["ok"] == true);
    CHECK(status_of([&] { receive(gh, gh.routes[0], h.fn(), ping, "other", 0); }) == 401);
    const std::string garbage = "{not json";
    CHECK(status_of([&] { receive(gh, gh.routes[0], github_headers(garbage, "issues", "x").fn(), garbage, "s", 0); }) == 401);
    CHECK(status_of([&] { receive(gh, gh.routes[0], github_headers(garbage, "issues").fn(), garbage, "s", 0); }) == 400);
    auto text = github_headers(ping, "ping");
    text.values["Content-Type"] = "text/plain";
    CHECK(status_of([&] { receive(gh, gh.routes[0], text.fn(), ping, "s", 0); }) == 415);
  }

  TEST_CASE("GitHub: the issue conversation key and a templated dispatch") {
    auto config = k_github;
    config["dispatch"] = {{"agent", "triage"}, {"id", "gh-{{payload.issue.number}}"},
                          {"input", {{"type", "github.{{event}}.{{action}}"},
                                     {"number", "{{payload.issue.number}}"},
                                     {"body", "{{payload.comment.body}}"}}},
                          {"events", {"issue_comment.created"}}};
    const auto gh = channel(config);
    const json payload = {{"action", "created"},
                          {"issue", {{"number", 42}}},
                          {"comment", {{"body", "please help"}, {"id", 7}}},
                          {"repository", {{"name", "hearth"}, {"owner", {{"login", "acme"}}}}}};
    const auto body = payload.dump();
    const auto d = receive(gh, gh.routes[0], github_headers(body, "issue_comment").fn(), body, "s", 0);
    CHECK(d.conversation_key == "github:v1:owner:acme:repo:hearth:issue:42");
    const auto planned = plan(gh, d);
    REQUIRE(planned.size() == 1);
    CHECK(planned[0].agent == "triage");
    CHECK(planned[0].id == "gh-42");
    CHECK(planned[0].input == json{{"type", "github.issue_comment.created"}, {"number", 42},
                                   {"body", "please help"}});
    CHECK(planned[0].idempotency_key == "ch:sha256:" + sha256_hex(body));
    // Another event is acknowledged without a dispatch.
    const json issue = {{"action", "opened"}, {"issue", {{"number", 42}}},
                        {"repository", {{"name", "hearth"}, {"owner", {{"login", "acme"}}}}}};
    const auto issue_body = issue.dump();
    const auto other = receive(gh, gh.routes[0], github_headers(issue_body, "issues").fn(), issue_body, "s", 0);
    CHECK(plan(gh, other).empty());
  }

  TEST_CASE("GitHub: replays dedup on the signed body; a relabelled event fails closed") {
    auto config = k_github;
    config["dispatch"] = {{"id", "gh-{{payload.issue.number}}"}};
    const auto gh = channel(config);
    const json payload = {{"action", "created"}, {"issue", {{"number", 1}}}, {"comment", {{"body", "x"}}}};
    const auto body = payload.dump();
    auto h = github_headers(body, "issue_comment");
    const auto first = plan(gh, receive(gh, gh.routes[0], h.fn(), body, "s", 0));
    h.values["X-GitHub-Delivery"] = "fresh-unsigned-id";
    const auto replay = plan(gh, receive(gh, gh.routes[0], h.fn(), body, "s", 0));
    REQUIRE(first.size() == 1);
    REQUIRE(replay.size() == 1);
    CHECK(first[0].idempotency_key == replay[0].idempotency_key);
    // An event without an issue plans nothing (never the instance `gh-`).
    const json push = {{"ref", "refs/heads/main"}, {"commits", json::array()}};
    const auto push_body = push.dump();
    CHECK(plan(gh, receive(gh, gh.routes[0], github_headers(push_body, "push").fn(), push_body, "s", 0)).empty());
    // X-GitHub-Event is unsigned: an issue_comment payload relabelled as `issues` is refused.
    CHECK(status_of([&] { receive(gh, gh.routes[0], github_headers(body, "issues").fn(), body, "s", 0); }) == 400);
  }

  TEST_CASE("webhook and Slack commands: dedup keys come from signed material only") {
    const auto hook = channel({{"type", "webhook"}, {"secretEnv", "S"}, {"deliveryHeader", "X-Id"},
                               {"signature", {{"header", "X-Sig"}, {"prefix", "sha256="}}},
                               {"dispatch", {{"id", "one"}}}});
    const std::string body = R"({"n":1})";
    Headers h{{{"Content-Type", "application/json"}, {"X-Id", "a"},
               {"X-Sig", "sha256=" + hmac_hex(Digest::sha256, "s", body)}}};
    const auto a = plan(hook, receive(hook, hook.routes[0], h.fn(), body, "s", 0));
    h.values["X-Id"] = "b";
    const auto b = plan(hook, receive(hook, hook.routes[0], h.fn(), body, "s", 0));
    REQUIRE(a.size() == 1);
    REQUIRE(b.size() == 1);
    CHECK(a[0].idempotency_key == b[0].idempotency_key);
    // Slack commands carry no id: timestamp + signature (both signed) key them.
    const auto slack = channel({{"type", "slack"}, {"secretEnv", "S"}, {"dispatch", {{"id", "one"}}}});
    const std::int64_t now = 1'800'000'000;
    const std::string form = "command=%2Fdeploy&text=go";
    const auto ts = std::to_string(now);
    const Headers sh{{{"Content-Type", "application/x-www-form-urlencoded"},
                      {"X-Slack-Request-Timestamp", ts},
                      {"X-Slack-Signature", "v0=" + hmac_hex(Digest::sha256, "sec", "v0:" + ts + ":" + form)}}};
    const auto c = plan(slack, receive(slack, slack.routes[2], sh.fn(), form, "sec", now));
    REQUIRE(c.size() == 1);
    CHECK_FALSE(c[0].idempotency_key.empty());
    CHECK(c[0].idempotency_key == plan(slack, receive(slack, slack.routes[2], sh.fn(), form, "sec", now))[0].idempotency_key);
  }

  TEST_CASE("Slack: url_verification is answered; events get the thread's conversation key") {
    const auto slack = channel({{"type", "slack"}, {"secretEnv", "S"}, {"dispatch", json::object()}});
    const std::int64_t now = 1'800'000'000;
    auto sign = [&](const std::string& body, const std::string& type) {
      const auto ts = std::to_string(now);
      return Headers{{{"Content-Type", type},
                      {"X-Slack-Request-Timestamp", ts},
                      {"X-Slack-Signature", "v0=" + hmac_hex(Digest::sha256, "sec", "v0:" + ts + ":" + body)}}};
    };
    const std::string challenge = R"({"type":"url_verification","challenge":"abc123","token":"t"})";
    auto d = receive(slack, slack.routes[0], sign(challenge, "application/json").fn(), challenge, "sec", now);
    REQUIRE(d.handshake);
    CHECK(*d.handshake == json{{"challenge", "abc123"}});
    CHECK(status_of([&] { receive(slack, slack.routes[0], sign(challenge, "application/json").fn(), challenge, "sec", now + 301); }) == 401);
    const json event = {{"type", "event_callback"}, {"team_id", "T1"}, {"event_id", "Ev1"}, {"token", "secret-ish"},
                        {"event", {{"type", "app_mention"}, {"channel", "C9"}, {"ts", "17.5"}, {"text", "hi"}}}};
    const auto body = event.dump();
    d = receive(slack, slack.routes[0], sign(body, "application/json").fn(), body, "sec", now);
    CHECK(d.event == "app_mention");
    CHECK(d.conversation_key == "slack:v1:T1:C9:17.5");
    CHECK_FALSE(d.payload.contains("token")); // scrubbed before anything sees it
    const auto planned = plan(slack, d);
    REQUIRE(planned.size() == 1);
    CHECK(planned[0].id == "slack:v1:T1:C9:17.5");
    CHECK(planned[0].idempotency_key == "ch:Ev1");
    CHECK(planned[0].input["type"] == "slack.app_mention");
    // Commands are form-encoded; JSON there is 415; response_url never survives.
    const std::string form = "command=%2Fdeploy&team_id=T1&channel_id=C9&response_url=https%3A%2F%2Fx&text=go+now";
    CHECK(status_of([&] { receive(slack, slack.routes[2], sign(form, "application/json").fn(), form, "sec", now); }) == 415);
    d = receive(slack, slack.routes[2], sign(form, "application/x-www-form-urlencoded").fn(), form, "sec", now);
    CHECK(d.event == "/deploy");
    CHECK(d.payload["text"] == "go now");
    CHECK_FALSE(d.payload.contains("response_url"));
  }

  TEST_CASE("scrub removes capabilities at any depth without recursion") {
    json deep = json::object();
    json* at = &deep;
    for (int i = 0; i < 2000; ++i) at = &((*at)["n"] = json::object());
    (*at)["response_url"] = "https://hooks";
    (*at)["keep"] = 1;
    scrub(deep);
    at = &deep;
    for (int i = 0; i < 2000; ++i) at = &(*at)["n"];
    CHECK_FALSE(at->contains("response_url"));
    CHECK((*at)["keep"] == 1);
  }

  TEST_CASE("templates: exact placeholders keep their JSON type, others interpolate text") {
    const json ctx = {{"payload", {{"n", 3}, {"s", "x"}, {"list", {1, 2}}}}};
    CHECK(render("{{payload.n}}", ctx) == 3);
    CHECK(render("#{{payload.n}}-{{payload.s}}", ctx) == "#3-x");
    CHECK(render("{{payload.list.1}}", ctx) == 2);
    CHECK(render("{{payload.missing}}", ctx).is_null());
    CHECK(render(json{{"a", {"{{payload.s}}"}}}, ctx) == json{{"a", {"x"}}});
  }
}

// Channel deliveries; see channels.hpp. Nothing is parsed before the signature verifies.
#include "triggers/channels.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace hearth::triggers {
namespace {

using nlohmann::json;

constexpr std::size_t k_max_input_payload = 256u << 10; // default input: payload bytes at most
constexpr std::size_t k_max_form_fields = 1000;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// The media type of a Content-Type value, lowercased, without parameters.
std::string media_type(const std::string& content_type) {
  auto base = lower(content_type.substr(0, content_type.find(';')));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  while (!base.empty() && base.front() == ' ') base.erase(0, 1);
  return base;
}

bool is_json_type(const std::string& type) {
  return type == "application/json" || (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() + 0 && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else out += s[i];
  }
  return out;
}

/// application/x-www-form-urlencoded as an object of strings (later duplicates win).
json parse_form(std::string_view body) {
  json out = json::object();
  std::size_t start = 0, fields = 0;
  while (start < body.size()) {
    if (++fields > k_max_form_fields) throw errors::channel_payload_invalid("Too many form fields.");
    auto amp = body.find('&', start);
    if (amp == std::string_view::npos) amp = body.size();
    const auto pair = body.substr(start, amp - start);
    const auto eq = pair.find('=');
    const auto key = form_decode(pair.substr(0, eq));
    const auto value = eq == std::string_view::npos ? std::string() : form_decode(pair.substr(eq + 1));
    if (!key.empty()) out[key] = value;
    start = amp + 1;
  }
  return out;
}

json parse_json_body(std::string_view body) {
  auto parsed = hearth::parse_json_or_discarded(body);
  if (parsed.is_discarded()) throw errors::channel_payload_invalid("The body is not valid JSON.");
  return parsed;
}

/// The string at `keys` in `j` (numbers as text), or "".
std::string text_at(const json& j, std::initializer_list<const char*> keys) {
  const json* at = &j;
  for (const char* k : keys) {
    if (!at->is_object()) return "";
    const auto it = at->find(k);
    if (it == at->end()) return "";
    at = &*it;
  }
  if (at->is_string()) return at->get<std::string>();
  if (at->is_number_integer()) return std::to_string(at->get<long long>());
  return "";
}

const json* find_path(const json& root, std::string_view path) {
  const json* at = &root;
  std::size_t start = 0;
  int depth = 0;
  while (start <= path.size()) {
    if (++depth > 64) return nullptr;
    auto dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    const std::string key(path.substr(start, dot - start));
    if (at->is_object()) {
      const auto it = at->find(key);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array() && !key.empty() &&
               std::all_of(key.begin(), key.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) &&
               key.size() < 9 && std::stoul(key) < at->size()) {
      at = &(*at)[std::stoul(key)];
    } else {
      return nullptr;
    }
    start = dot + 1;
  }
  return at;
}

std::string as_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return hearth::dump_json(v);
}

std::string render_string(const std::string& s, const json& context, json* whole) {
  std::string out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto open = s.find("{{", pos);
    if (open == std::string::npos) break;
    const auto close = s.find("}}", open + 2);
    if (close == std::string::npos) break;
    out.append(s, pos, open - pos);
    std::string path = s.substr(open + 2, close - open - 2);
    path.erase(0, path.find_first_not_of(' '));
    path.erase(path.find_last_not_of(' ') + 1);
    const json* v = find_path(context, path);
    if (whole && open == 0 && close + 2 == s.size()) {
      *whole = v ? *v : json();
      return {};
    }
    if (v) out += as_text(*v);
    pos = close + 2;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

bool c_timestamped(const ChannelDef& c) { return !c.timestamp_header.empty(); }

/// Whether every `{{path}}` in `s` names a present, non-null value of `context`.
bool all_paths_present(const std::string& s, const json& context) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    const auto open = s.find("{{", pos);
    if (open == std::string::npos) return true;
    const auto close = s.find("}}", open + 2);
    if (close == std::string::npos) return true;
    std::string path = s.substr(open + 2, close - open - 2);
    path.erase(0, path.find_first_not_of(' '));
    path.erase(path.find_last_not_of(' ') + 1);
    const json* v = find_path(context, path);
    if (!v || v->is_null() || (v->is_string() && v->get_ref<const std::string&>().empty())) return false;
    pos = close + 2;
  }
  return true;
}

/// Instance ids from templates: 1..200 bytes, no control characters.
bool valid_instance_id(const std::string& id) {
  if (id.empty() || id.size() > 200) return false;
  return std::none_of(id.begin(), id.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

void verify(const ChannelDef& c, const HeaderFn& header, std::string_view body,
            std::string_view secret, std::int64_t now_s) {
  Verdict v;
  switch (c.type) {
  case ChannelType::slack:
    v = verify_slack(secret, header("X-Slack-Request-Timestamp"), header("X-Slack-Signature"), body,
                     now_s);
    break;
  case ChannelType::github:
    v = verify_github(secret, header("X-Hub-Signature-256"), body);
    break;
  default:
    v = verify_generic(c.scheme, secret, header(c.signature_header),
                       c.timestamp_header.empty() ? std::string() : header(c.timestamp_header), body,
                       now_s);
  }
  if (!v.ok) throw errors::channel_signature_invalid(v.reason);
}

Delivery receive_slack(const ChannelRoute& route, const std::string& type, std::string_view body) {
  Delivery d;
  if (route.surface == "events") {
    if (!is_json_type(type)) throw errors::channel_media_type(type, "application/json");
    d.payload = parse_json_body(body);
    if (!d.payload.is_object()) throw errors::channel_payload_invalid("Expected a JSON object.");
    const auto kind = text_at(d.payload, {"type"});
    if (kind == "url_verification") {
      d.handshake = json{{"challenge", text_at(d.payload, {"challenge"})}};
      return d;
    }
    d.event = kind == "event_callback" ? text_at(d.payload, {"event", "type"}) : kind;
    d.delivery_id = text_at(d.payload, {"event_id"});
    auto thread = text_at(d.payload, {"event", "thread_ts"});
    if (thread.empty()) thread = text_at(d.payload, {"event", "ts"});
    const auto team = text_at(d.payload, {"team_id"});
    const auto channel = text_at(d.payload, {"event", "channel"});
    if (!team.empty() && !channel.empty() && !thread.empty())
      d.conversation_key = slack_conversation_key(team, channel, thread);
    return d;
  }
  if (type != "application/x-www-form-urlencoded")
    throw errors::channel_media_type(type, "application/x-www-form-urlencoded");
  const auto form = parse_form(body);
  if (route.surface == "interactions") {
    if (!form.contains("payload")) throw errors::channel_payload_invalid("Missing the payload field.");
    d.payload = parse_json_body(form["payload"].get<std::string>());
    if (!d.payload.is_object()) throw errors::channel_payload_invalid("Expected a JSON object.");
    d.event = text_at(d.payload, {"type"});
    auto thread = text_at(d.payload, {"message", "thread_ts"});
    if (thread.empty()) thread = text_at(d.payload, {"message", "ts"});
    const auto team = text_at(d.payload, {"team", "id"});
    const auto channel = text_at(d.payload, {"channel", "id"});
    if (!team.empty() && !channel.empty() && !thread.empty())
      d.conversation_key = slack_conversation_key(team, channel, thread);
    return d;
  }
  d.payload = form; // commands: the form fields, Slack's names
  d.event = text_at(form, {"command"});
  return d;
}

bool has_object(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_object();
}

/// X-GitHub-Event is not signed: for the events a dispatch commonly filters on, the signed
/// payload must have that event's shape (fail closed on a relabelled delivery). Other event
/// names pass; `dispatch.events` over them relies on the unsigned header (docs/triggers.md).
bool github_shape_matches(const std::string& event, const json& p) {
  const bool comment = has_object(p, "comment"), issue = has_object(p, "issue"),
             pr = has_object(p, "pull_request"), review = has_object(p, "review");
  if (event == "issue_comment") return comment && issue && !pr;
  if (event == "issues") return issue && !comment && !pr;
  if (event == "pull_request") return pr && !comment && !review && !issue;
  if (event == "pull_request_review") return pr && review && !comment;
  if (event == "pull_request_review_comment") return pr && comment && !review;
  if (event == "push") return p.contains("ref") && p.contains("commits") && !issue && !pr;
  if (event == "release") return has_object(p, "release") && !issue && !pr;
  if (event == "discussion") return has_object(p, "discussion") && !comment;
  if (event == "discussion_comment") return has_object(p, "discussion") && comment;
  return true;
}

Delivery receive_github(const HeaderFn& header, const std::string& type, std::string_view body) {
  Delivery d;
  if (is_json_type(type)) {
    d.payload = parse_json_body(body);
  } else if (type == "application/x-www-form-urlencoded") {
    const auto form = parse_form(body);
    if (!form.contains("payload")) throw errors::channel_payload_invalid("Missing the payload field.");
    d.payload = parse_json_body(form["payload"].get<std::string>());
  } else {
    throw errors::channel_media_type(type, "application/json or application/x-www-form-urlencoded");
  }
  if (!d.payload.is_object()) throw errors::channel_payload_invalid("Expected a JSON object.");
  d.event = header("X-GitHub-Event").substr(0, 100);
  if (d.event.empty()) throw errors::channel_payload_invalid("Missing the X-GitHub-Event header.");
  d.delivery_id = header("X-GitHub-Delivery").substr(0, 200);
  if (d.event == "ping") {
    d.handshake = json{{"ok", true}, {"zen", text_at(d.payload, {"zen"})}};
    return d;
  }
  if (!github_shape_matches(d.event, d.payload))
    throw errors::channel_payload_invalid("The payload does not have the shape of a '" + d.event +
                                          "' event.");
  d.action = text_at(d.payload, {"action"});
  const auto owner = text_at(d.payload, {"repository", "owner", "login"});
  const auto repo = text_at(d.payload, {"repository", "name"});
  const json* number = nullptr;
  for (const char* key : {"issue", "pull_request"}) {
    const auto it = d.payload.find(key);
    if (it != d.payload.end() && it->is_object() && it->contains("number") &&
        (*it)["number"].is_number_integer()) {
      number = &(*it)["number"];
      break;
    }
  }
  if (!owner.empty() && !repo.empty() && number)
    d.conversation_key = github_conversation_key(owner, repo, number->get<std::int64_t>());
  return d;
}

} // namespace

std::string slack_conversation_key(std::string_view team, std::string_view channel,
                                   std::string_view thread_ts) {
  return "slack:v1:" + std::string(team) + ":" + std::string(channel) + ":" + std::string(thread_ts);
}

std::string github_conversation_key(std::string_view owner, std::string_view repo,
                                    std::int64_t issue) {
  return "github:v1:owner:" + std::string(owner) + ":repo:" + std::string(repo) + ":issue:" +
         std::to_string(issue);
}

Delivery receive(const ChannelDef& channel, const ChannelRoute& route, const HeaderFn& header,
                 std::string_view body, std::string_view secret, std::int64_t now_s) {
  verify(channel, header, body, secret, now_s); // the exact bytes, before anything else
  const auto type = media_type(header("Content-Type"));
  Delivery d;
  switch (channel.type) {
  case ChannelType::slack: d = receive_slack(route, type, body); break;
  case ChannelType::github: d = receive_github(header, type, body); break;
  default:
    if (!is_json_type(type)) throw errors::channel_media_type(type, "application/json");
    d.payload = parse_json_body(body);
    if (!channel.event_header.empty()) d.event = header(channel.event_header).substr(0, 200);
    if (!channel.delivery_header.empty()) d.delivery_id = header(channel.delivery_header).substr(0, 200);
  }
  // Dedup on signed material only: delivery headers are not covered by any signature.
  switch (channel.type) {
  case ChannelType::slack: {
    const auto event_id = text_at(d.payload, {"event_id"}); // inside the signed body
    d.dedup_key = !event_id.empty()
                      ? event_id
                      : "sha256:" + sha256_hex(header("X-Slack-Request-Timestamp") + ":" +
                                               header("X-Slack-Signature"));
    break;
  }
  case ChannelType::github: d.dedup_key = "sha256:" + sha256_hex(body); break;
  default:
    d.dedup_key = "sha256:" + sha256_hex(c_timestamped(channel)
                                             ? header(channel.timestamp_header) + "." + std::string(body)
                                             : std::string(body));
  }
  scrub(d.payload);
  return d;
}

void scrub(json& value) {
  static const std::vector<std::string> k_secret_keys = {
      "token", "response_url", "response_urls", "trigger_id", "secret", "client_secret",
      "access_token", "refresh_token", "password"};
  std::vector<json*> stack = {&value};
  while (!stack.empty()) {
    json* at = stack.back();
    stack.pop_back();
    if (at->is_object()) {
      for (const auto& key : k_secret_keys) at->erase(key);
      for (auto& [_, member] : at->items()) stack.push_back(&member);
    } else if (at->is_array()) {
      for (auto& member : *at) stack.push_back(&member);
    }
  }
}

json render(const json& tmpl, const json& context) {
  if (tmpl.is_string()) {
    json whole;
    const auto& s = tmpl.get_ref<const std::string&>();
    const auto text = render_string(s, context, &whole);
    const bool exact = s.rfind("{{", 0) == 0 && s.find("}}") == s.size() - 2;
    return exact ? whole : json(text);
  }
  if (tmpl.is_object()) {
    json out = json::object();
    for (const auto& [key, value] : tmpl.items()) out[key] = render(value, context);
    return out;
  }
  if (tmpl.is_array()) {
    json out = json::array();
    for (const auto& value : tmpl) out.push_back(render(value, context));
    return out;
  }
  return tmpl;
}

json handler_input(const ChannelDef& channel, const ChannelRoute& route, const Delivery& d) {
  return {{"channel", channel.name},       {"type", to_string(channel.type)},
          {"surface", route.surface},      {"event", d.event},
          {"action", d.action},            {"deliveryId", d.delivery_id},
          {"conversationKey", d.conversation_key}, {"payload", d.payload}};
}

std::vector<PlannedDispatch> plan(const ChannelDef& channel, const Delivery& d) {
  if (!channel.dispatch) return {};
  const auto& m = *channel.dispatch;
  if (!m.events.empty()) {
    const auto dotted = d.action.empty() ? d.event : d.event + "." + d.action;
    if (std::find(m.events.begin(), m.events.end(), d.event) == m.events.end() &&
        std::find(m.events.begin(), m.events.end(), dotted) == m.events.end())
      return {};
  }
  const json context = {{"payload", d.payload},       {"event", d.event},
                        {"action", d.action},         {"deliveryId", d.delivery_id},
                        {"conversationKey", d.conversation_key}, {"channel", channel.name}};
  PlannedDispatch p{.agent = m.agent};
  if (!all_paths_present(m.id, context)) return {}; // never `gh-` for an issue-less event
  p.id = as_text(render(json(m.id), context));
  if (!valid_instance_id(p.id)) return {};
  if (m.input.is_null()) {
    json payload = d.payload;
    if (hearth::dump_json(payload).size() > k_max_input_payload)
      payload = json{{"truncated", true}};
    const auto type = to_string(channel.type) + "." + d.event + (d.action.empty() ? "" : "." + d.action);
    p.input = {{"type", type}, {"channel", channel.name}, {"deliveryId", d.delivery_id},
               {"payload", payload}};
  } else {
    p.input = render(m.input, context);
  }
  if (!d.dedup_key.empty()) p.idempotency_key = channel.name + ":" + d.dedup_key;
  return {p};
}

} // namespace hearth::triggers

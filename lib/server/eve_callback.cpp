// Eve session callbacks; see eve_callback.hpp.
#include "server/eve_callback.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"

#include <arpa/inet.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <optional>
#include <vector>

namespace hearth::server {
namespace {
using nlohmann::json;

constexpr std::size_t k_max_field = 2048;
constexpr std::size_t k_max_response_body = 64 * 1024;
constexpr const char* k_callback_route = "/eve/v1/callback/";

/// The parts of an absolute http(s)-like URL that matter here.
struct Url {
  std::string scheme;    // lower case
  std::string host;      // as written, brackets kept for IPv6
  std::string port;      // "" for the scheme's default
  std::string path;      // "/" when empty, no query
  std::string query;     // with its "?", or ""
  bool userinfo = false;
};

/// No byte a resolver or a log line reads differently from the check: nothing below 0x21
/// (NUL, controls, space: getaddrinfo stops at a NUL, CR/LF forge log lines) and no DEL.
bool plain_url(const std::string& text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x21 || b == 0x7f;
  });
}

/// An ASCII host (non-ASCII names are sent in their punycode form).
bool ascii_host(const std::string& host) {
  return std::none_of(host.begin(), host.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

/// WHATWG-style absolute URL split; nullopt when `text` is not absolute (no scheme, no host).
std::optional<Url> split_url(const std::string& text) {
  if (!plain_url(text)) return std::nullopt;
  const auto colon = text.find("://");
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  Url u;
  for (std::size_t i = 0; i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool ok = std::isalpha(c) || (i > 0 && (std::isdigit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok) return std::nullopt;
    u.scheme += static_cast<char>(std::tolower(c));
  }
  const auto rest = text.substr(colon + 3);
  const auto end = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, end);
  if (const auto at = authority.rfind('@'); at != std::string::npos) {
    u.userinfo = true;
    authority = authority.substr(at + 1);
  }
  if (authority.empty()) return std::nullopt;
  if (authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(0, close + 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return std::nullopt;
      u.port = after.substr(1);
    }
  } else {
    const auto c = authority.rfind(':');
    u.host = authority.substr(0, c);
    if (c != std::string::npos) u.port = authority.substr(c + 1);
  }
  if (u.host.empty() || u.host.find_first_of("<>\\^|%") != std::string::npos)
    return std::nullopt;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!u.port.empty() && (u.port.size() > 5 || !std::all_of(u.port.begin(), u.port.end(), digit) ||
                          std::stoul(u.port) > 65535))
    return std::nullopt;
  std::string tail = end == std::string::npos ? std::string() : rest.substr(end);
  tail = tail.substr(0, tail.find('#'));
  const auto q = tail.find('?');
  u.path = tail.substr(0, q);
  if (q != std::string::npos) u.query = tail.substr(q);
  if (u.path.empty()) u.path = "/";
  return u;
}

/// decodeURIComponent: nullopt on a malformed escape.
std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

/// readCallbackUrlToken: the segment after the last /eve/v1/callback/ (a named agent's
/// /eve/<name>/v1 prefix read as /eve/v1), nullopt when there is none.
std::optional<std::string> url_token(const std::string& path) {
  std::string p = path;
  if (p.rfind("/eve/", 0) == 0) { // normalizePublicEveRoutePath
    const auto name_end = p.find('/', 5);
    if (name_end != std::string::npos && name_end > 5 && p.compare(name_end, 3, "/v1") == 0 &&
        (p.size() == name_end + 3 || p[name_end + 3] == '/')) {
      const auto name = p.substr(5, name_end - 5);
      const bool named = std::isalnum(static_cast<unsigned char>(name[0])) &&
                         std::all_of(name.begin(), name.end(), [](char c) {
                           return (std::islower(static_cast<unsigned char>(c)) ||
                                   std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-');
                         });
      if (named) p = "/eve/v1" + p.substr(name_end + 3);
    }
  }
  const auto at = p.rfind(k_callback_route);
  if (at == std::string::npos) return std::nullopt;
  const auto token = p.substr(at + std::strlen(k_callback_route));
  if (token.empty() || token.find('/') != std::string::npos) return std::nullopt;
  return percent_decode(token);
}

bool in_v4(std::uint32_t addr, const char* net, int bits) {
  in_addr n{};
  inet_pton(AF_INET, net, &n);
  const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (addr & mask) == (ntohl(n.s_addr) & mask);
}

bool in_v6(const std::array<unsigned char, 16>& a, const char* net, int bits) {
  in6_addr n{};
  inet_pton(AF_INET6, net, &n);
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const unsigned char mask = bits >= 8 ? 0xFF : static_cast<unsigned char>(0xFF << (8 - bits));
    if ((a[static_cast<std::size_t>(i)] & mask) != (n.s6_addr[i] & mask)) return false;
  }
  return true;
}

/// The canonical dotted IPv4 form of a host the way a URL parser reads it (hex, octal and short
/// forms included: "0x7f.1" is 127.0.0.1), nullopt when `host` is not an IPv4 literal.
std::optional<std::uint32_t> ipv4_of(const std::string& host) {
  if (host.empty() || host.find_first_not_of("0123456789abcdefABCDEFxX.") != std::string::npos)
    return std::nullopt;
  auto last = host;
  if (last.back() == '.') last.pop_back();
  const auto dot = last.rfind('.');
  const auto label = dot == std::string::npos ? last : last.substr(dot + 1);
  if (label.empty() || !std::isdigit(static_cast<unsigned char>(label[0]))) return std::nullopt;
  in_addr a{};
  if (inet_aton(last.c_str(), &a) == 0) return std::nullopt;
  return ntohl(a.s_addr);
}

/// A private or reserved IPv4 address; loopback is not.
bool reserved_v4(std::uint32_t a) {
  if (in_v4(a, "127.0.0.0", 8)) return false; // loopback
  static const std::vector<std::pair<const char*, int>> ranges = {
      {"0.0.0.0", 8},      {"10.0.0.0", 8},      {"100.64.0.0", 10},  {"169.254.0.0", 16},
      {"172.16.0.0", 12},  {"192.0.0.0", 24},    {"192.0.2.0", 24},   {"192.88.99.0", 24},
      {"192.168.0.0", 16}, {"198.18.0.0", 15},   {"198.51.100.0", 24}, {"203.0.113.0", 24},
      {"224.0.0.0", 4},    {"240.0.0.0", 4}};
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const auto& r) { return in_v4(a, r.first, r.second); });
}

/// isReservedIpAddress: a private or reserved IP literal; loopback and names are not. An
/// IPv4-mapped IPv6 address (::ffff:0:0/96, any spelling) is judged by its IPv4 address.
bool reserved_host(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (const auto pct = host.find('%'); pct != std::string::npos) host = host.substr(0, pct);
  std::string lower;
  for (char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("::ffff:", 0) == 0 && ipv4_of(lower.substr(7))) lower = lower.substr(7);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  const std::string suffix = ".localhost";
  if (lower == "localhost" ||
      (lower.size() > suffix.size() && lower.compare(lower.size() - suffix.size(), suffix.size(), suffix) == 0))
    return false;
  if (const auto v4 = ipv4_of(lower)) return reserved_v4(*v4);
  in6_addr v6{};
  if (inet_pton(AF_INET6, lower.c_str(), &v6) != 1) return false; // a name
  std::array<unsigned char, 16> a{};
  std::memcpy(a.data(), v6.s6_addr, 16);
  if (in_v6(a, "::ffff:0:0", 96)) // IPv4-mapped: "::ffff:a00:1" is 10.0.0.1
    return reserved_v4(std::uint32_t{a[12]} << 24 | std::uint32_t{a[13]} << 16 |
                       std::uint32_t{a[14]} << 8 | std::uint32_t{a[15]});
  if (in_v6(a, "::1", 128)) return false; // loopback
  static const std::vector<std::pair<const char*, int>> ranges = {
      {"::", 96},      {"64:ff9b::", 96}, {"64:ff9b:1::", 48}, {"100::", 64},  {"2001::", 23},
      {"2001:db8::", 32}, {"2002::", 16},  {"fc00::", 7},       {"fe80::", 10}, {"ff00::", 8}};
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const auto& r) { return in_v6(a, r.first, r.second); });
}

/// An IPv6 literal host other than the loopback ([::1]): httplib 0.11.4 reads only the
/// digit-and-colon form of a bracketed host, so hearth refuses the others (docs/http.md).
bool ipv6_literal_not_loopback(const std::string& host) {
  if (host.size() < 2 || host.front() != '[') return false;
  in6_addr v6{};
  const auto bare = host.substr(1, host.size() - 2);
  if (inet_pton(AF_INET6, bare.c_str(), &v6) != 1) return true;
  return !IN6_IS_ADDR_LOOPBACK(&v6) || bare.find_first_not_of("0123456789:") != std::string::npos;
}

std::string type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

/// The log-safe form of a callback URL: the token path segment redacted, as Eve logs it.
std::string redacted(const std::string& url) {
  const auto at = url.find("/callback/");
  std::string out = at == std::string::npos ? "[redacted]" : url.substr(0, at) + "/callback/[redacted]";
  for (char& c : out) // a log line stays one line
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

} // namespace

json parse_eve_callback(const json& value) {
  std::vector<std::string> issues;
  const auto fail = [&] {
    std::string message = "Invalid callback metadata: ";
    for (std::size_t i = 0; i < issues.size(); ++i) message += (i ? "; " : "") + issues[i];
    throw errors::eve_invalid_request(message);
  };
  if (!value.is_object()) {
    issues.push_back("callback: Invalid input: expected object, received " + type_name(value));
    fail();
  }
  static const std::array<const char*, 4> fields = {"callId", "subagentName", "token", "url"};
  for (const char* f : fields) {
    const auto it = value.find(f);
    if (it == value.end())
      issues.push_back(std::string("callback.") + f + ": Invalid input: expected string, received undefined");
    else if (!it->is_string())
      issues.push_back(std::string("callback.") + f + ": Invalid input: expected string, received " +
                       type_name(*it));
    else if (it->get_ref<const std::string&>().empty())
      issues.push_back(std::string("callback.") + f + ": Too small: expected string to have >=1 characters");
    else if (it->get_ref<const std::string&>().size() > k_max_field) // hearth's bound
      issues.push_back(std::string("callback.") + f + ": Too big: expected string to have <=" +
                       std::to_string(k_max_field) + " characters");
  }
  std::vector<std::string> unknown;
  for (const auto& [k, v] : value.items())
    if (std::find_if(fields.begin(), fields.end(), [&](const char* f) { return k == f; }) == fields.end())
      unknown.push_back("\"" + k + "\"");
  if (!unknown.empty()) {
    std::string list;
    for (std::size_t i = 0; i < unknown.size() && i < 20; ++i) list += (i ? ", " : "") + unknown[i];
    issues.push_back(std::string("callback: Unrecognized key") + (unknown.size() > 1 ? "s" : "") +
                     ": " + list);
  }
  if (!issues.empty()) fail();
  const auto url_text = value["url"].get<std::string>();
  const auto token = value["token"].get<std::string>();
  if (!plain_url(url_text)) { // hearth: Eve's URL parser strips or refuses these
    issues.push_back("callback.url: Callback url must not contain spaces or control characters.");
    fail();
  }
  const auto url = split_url(url_text);
  if (url && !ascii_host(url->host)) { // hearth: one spelling for the check and the resolver
    issues.push_back("callback.url: Callback url host must be ASCII (punycode).");
    fail();
  }
  if (!url) {
    issues.push_back("callback.url: Callback url must be absolute.");
    fail();
  }
  if (url_token(url->path) != token)
    issues.push_back("callback.url: Callback url token must match callback token.");
  if (reserved_host(url->host))
    issues.push_back("callback.url: Callback url host must not be a private or reserved address.");
  else if (ipv6_literal_not_loopback(url->host)) // hearth: see ipv6_literal_not_loopback
    issues.push_back("callback.url: Callback url host must be a name, an IPv4 address or [::1].");
  if (url->scheme != "http" && url->scheme != "https") // hearth: Eve fails later, when it posts
    issues.push_back("callback.url: Callback url must be http or https.");
  if (url->userinfo) // hearth: no credentials travel in a callback URL
    issues.push_back("callback.url: Callback url must not carry user info.");
  if (!issues.empty()) fail();
  return {{"callId", value["callId"]}, {"subagentName", value["subagentName"]},
          {"token", token}, {"url", url_text}};
}

json eve_callback_body(const json& callback, const std::string& session_id, const SettledTurn& turn) {
  const auto n = [&](const char* key) {
    return turn.usage.is_object() && turn.usage.contains(key) && turn.usage[key].is_number_integer()
               ? turn.usage[key].get<std::int64_t>()
               : std::int64_t{0};
  };
  const json usage_delta = {{"cacheReadTokens", n("cacheRead")}, {"cacheWriteTokens", n("cacheWrite")},
                            {"inputTokens", n("input")}, {"outputTokens", n("output")}};
  json body = {{"callId", callback.value("callId", "")}, {"sessionId", session_id},
               {"subagentName", callback.value("subagentName", "")}};
  if (turn.kind == SettledTurn::Kind::completed) {
    body["kind"] = "turn.completed";
    body["output"] = turn.output;
    body["outcome"] = {{"kind", "parked"},
                       {"result", {{"kind", "succeeded"}, {"output", turn.output}}},
                       {"usageDelta", usage_delta}};
    return body;
  }
  const bool cancelled = turn.kind == SettledTurn::Kind::cancelled;
  const json error = {{"code", "SUBAGENT_EXECUTION_FAILED"},
                      {"message", cancelled ? std::string("The agent invocation was cancelled.") : turn.message}};
  body["kind"] = "turn.failed";
  body["error"] = error;
  body["outcome"] = {{"kind", "parked"},
                     {"result", cancelled ? json{{"kind", "cancelled"}}
                                          : json{{"error", error}, {"kind", "failed"}}},
                     {"usageDelta", usage_delta}};
  return body;
}

struct CallbackSender::State {
  using Clock = std::chrono::steady_clock;
  struct Item {
    std::uint64_t id = 0;
    std::string url{};
    std::string host{}; // the per-host limit's key
    std::string body{};
    std::string key{};
    int attempt = 0; // attempts made
    Clock::time_point due{};
  };
  Limits limits{};
  Done on_done{};
  Resolver resolver{};
  std::mutex mutex{};
  std::condition_variable cv{};
  std::list<Item> queue{};
  std::map<std::uint64_t, Item> in_flight{};
  std::map<std::string, int> busy{}; // host -> POSTs in flight
  std::uint64_t next_id = 0;
  int running = 0;   // worker threads alive
  int reporting = 0; // outcomes decided, not yet reported
  bool stopping = false;
  std::atomic<bool> cut{false}; // attempts in flight are stopped
  std::mutex hook_mutex{};
  bool closed = false; // on_done is not called any more

  void report(const std::string& key, Outcome outcome) {
    if (!on_done) return;
    std::lock_guard lock(hook_mutex);
    if (closed) return;
    try {
      on_done(key, outcome);
    } catch (...) {
    }
  }
};

namespace {
using State = CallbackSender::State;
using Outcome = CallbackSender::Outcome;
constexpr int k_refused = -1; // the host resolves to a private or reserved address

std::vector<std::string> system_resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return {};
  std::vector<std::string> out;
  for (auto* a = found; a && out.size() < 32; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ai_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, text, sizeof text);
    else if (a->ai_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, text, sizeof text);
    else
      continue;
    out.emplace_back(text);
  }
  freeaddrinfo(found);
  return out;
}

/// The addresses of `host`, looked up on a detached thread: at most resolve_timeout, less when
/// the sender is cut; none on failure. The lookup itself is abandoned, not waited for.
std::vector<std::string> resolve(State& state, const std::string& host) {
  struct Job {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    std::vector<std::string> addresses;
  };
  auto job = std::make_shared<Job>();
  CallbackSender::Resolver fn = state.resolver ? state.resolver : CallbackSender::Resolver(system_resolve);
  std::thread([job, fn = std::move(fn), host] {
    std::vector<std::string> found;
    try {
      found = fn(host);
    } catch (...) {
    }
    std::lock_guard lock(job->mutex);
    job->addresses = std::move(found);
    job->done = true;
    job->cv.notify_all();
  }).detach();
  const auto deadline = State::Clock::now() + state.limits.resolve_timeout;
  std::unique_lock lock(job->mutex);
  while (!job->done && !state.cut && State::Clock::now() < deadline)
    job->cv.wait_for(lock, std::chrono::milliseconds(25));
  return job->done ? job->addresses : std::vector<std::string>{};
}

/// One attempt: the HTTP status, 0 for a transport failure or timeout, k_refused when the host
/// resolves to a private or reserved address.
int post_once(State& state, const State::Item& item) {
  const auto url = split_url(item.url);
  if (!url || !ascii_host(url->host)) return 400;
  std::string host = url->host;
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
  std::string address; // where the connection goes; empty: the literal itself
  if (const auto v4 = ipv4_of(host)) { // connect where the check looked
    in_addr a{.s_addr = htonl(*v4)};
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a, text, sizeof text);
    host = text;
  } else if (in6_addr v6{}; inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
    if (reserved_host(bare)) return k_refused;
  } else {
    const auto addresses = resolve(state, bare);
    if (addresses.empty()) return 0;
    for (const auto& a : addresses)
      if (reserved_host(a)) return k_refused;
    // IPv4 first (a receiver on 127.0.0.1 named "localhost" is reached as httplib would).
    const auto first_v4 = std::find_if(addresses.begin(), addresses.end(),
                                       [](const std::string& a) { return a.find(':') == std::string::npos; });
    address = first_v4 != addresses.end() ? *first_v4 : addresses.front();
  }
  if (reserved_host(host)) return k_refused; // a literal read back from the store is checked again
  const auto origin = url->scheme + "://" + host + (url->port.empty() ? "" : ":" + url->port);
  httplib::Client client(origin);
  if (!address.empty()) client.set_hostname_addr_map({{host, address}});
  const auto us = [](std::chrono::milliseconds ms) {
    return std::chrono::duration_cast<std::chrono::microseconds>(ms);
  };
  client.set_connection_timeout(us(state.limits.connect_timeout));
  client.set_read_timeout(us(state.limits.io_timeout));
  client.set_write_timeout(us(state.limits.io_timeout));
  client.set_keep_alive(false);
  client.set_follow_location(false);
  const auto deadline = State::Clock::now() + state.limits.total;
  // The whole attempt is bounded: a watchdog stops the client at the deadline or when the
  // sender is cut. It, not the destructor's thread, waits for httplib's socket lock.
  std::jthread watchdog([&client, &state, deadline](std::stop_token done) {
    while (!done.stop_requested() && !state.cut && State::Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!done.stop_requested()) client.stop();
  });
  int status = 0;
  std::size_t read = 0;
  httplib::Request req;
  req.method = "POST";
  req.path = url->path + url->query;
  req.headers = {{"Content-Type", "application/json"}};
  req.body = item.body;
  req.response_handler = [&status](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char*, std::size_t n, std::uint64_t, std::uint64_t) {
    read += n;
    return read <= k_max_response_body; // ignored; more is not read
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  client.send(req, res, error);
  watchdog.request_stop();
  watchdog.join();
  if (State::Clock::now() >= deadline || state.cut) return 0;
  return status;
}

void log_failure(const State::Item& item, int status) {
  std::cerr << "hearth: warning: session callback to " << redacted(item.url) << " failed ("
            << (status == k_refused ? std::string("its host resolves to a private or reserved address")
                : status == 0       ? std::string("no answer")
                                    : "HTTP " + std::to_string(status))
            << ", attempt " << item.attempt << ")." << std::endl;
}

void work(const std::shared_ptr<State>& state) {
  auto& s = *state;
  for (;;) {
    State::Item item;
    {
      std::unique_lock lock(s.mutex);
      for (;;) {
        if (s.stopping) {
          --s.running;
          s.cv.notify_all();
          return;
        }
        const auto now = State::Clock::now();
        auto next = State::Clock::time_point::max();
        auto pick = s.queue.end();
        for (auto it = s.queue.begin(); it != s.queue.end(); ++it) {
          if (s.busy.contains(it->host)) continue; // one POST per host at a time
          if (it->due <= now) {
            pick = it;
            break;
          }
          next = std::min(next, it->due);
        }
        if (pick != s.queue.end()) {
          item = std::move(*pick);
          s.queue.erase(pick);
          ++s.busy[item.host];
          s.in_flight[item.id] = {.id = item.id, .url = item.url, .key = item.key, .attempt = item.attempt};
          break;
        }
        if (next == State::Clock::time_point::max())
          s.cv.wait(lock);
        else
          s.cv.wait_until(lock, next);
      }
    }
    ++item.attempt;
    int status = 0;
    try {
      status = post_once(s, item);
    } catch (const std::exception&) {
      status = 0;
    }
    const bool sent = status >= 200 && status < 300;
    const bool retry = !sent && (status == 0 || status == 408 || status == 429 || status >= 500);
    std::optional<Outcome> outcome;
    {
      std::lock_guard lock(s.mutex);
      if (--s.busy[item.host] <= 0) s.busy.erase(item.host);
      s.in_flight.erase(item.id);
      if (sent) {
        outcome = Outcome::sent;
      } else if (retry && item.attempt < s.limits.attempts && !s.stopping) {
        auto backoff = s.limits.first_backoff;
        for (int i = 1; i < item.attempt; ++i) backoff *= 4;
        item.due = State::Clock::now() + backoff;
        s.queue.push_back(item); // admitted already: a retry is not refused
      } else if (retry && item.attempt < s.limits.attempts) {
        outcome = Outcome::dropped; // cut by the stop
      } else {
        outcome = Outcome::failed;
      }
      if (outcome) ++s.reporting; // the destructor waits for it (bounded)
    }
    s.cv.notify_all();
    if (!outcome) continue;
    if (outcome == Outcome::failed) log_failure(item, status);
    if (outcome == Outcome::dropped)
      std::cerr << "hearth: warning: session callback to " << redacted(item.url)
                << " dropped: the server stopped before it was delivered." << std::endl;
    s.report(item.key, *outcome);
    {
      std::lock_guard lock(s.mutex);
      --s.reporting;
    }
    s.cv.notify_all();
  }
}
} // namespace

CallbackSender::CallbackSender() : CallbackSender(Limits{}) {}

CallbackSender::CallbackSender(Limits limits, Done on_done, Resolver resolver)
    : m_state(std::make_shared<State>()) {
  m_state->limits = limits;
  m_state->on_done = std::move(on_done);
  m_state->resolver = std::move(resolver);
  const int workers = std::max(1, limits.workers);
  for (int i = 0; i < workers; ++i) {
    {
      std::lock_guard lock(m_state->mutex);
      ++m_state->running;
    }
    std::thread([state = m_state] { work(state); }).detach();
  }
}

CallbackSender::~CallbackSender() {
  auto& s = *m_state;
  std::vector<State::Item> dropped;
  {
    std::unique_lock lock(s.mutex);
    s.cv.wait_for(lock, s.limits.drain,
                  [&] { return s.queue.empty() && s.in_flight.empty() && s.reporting == 0; });
    s.stopping = true;
    s.cut = true;
    for (auto& item : s.queue) dropped.push_back(std::move(item));
    s.queue.clear();
    s.cv.notify_all();
    // Attempts in flight are cut by their watchdogs; a connect or TLS handshake that holds
    // httplib's lock is left to its own timeout on its (detached) worker, not waited for.
    s.cv.wait_for(lock, std::chrono::seconds(1), [&] { return s.in_flight.empty() && s.reporting == 0; });
    for (const auto& [id, item] : s.in_flight) dropped.push_back(item);
  }
  for (const auto& item : dropped) {
    std::cerr << "hearth: warning: session callback to " << redacted(item.url)
              << " dropped: the server stopped before it was delivered." << std::endl;
    s.report(item.key, Outcome::dropped);
  }
  std::lock_guard lock(s.hook_mutex);
  s.closed = true;
}

bool CallbackSender::push(std::string url, json body, std::string key) {
  auto& s = *m_state;
  const auto parts = split_url(url);
  std::string host = parts ? parts->host : std::string();
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  {
    std::lock_guard lock(s.mutex);
    std::size_t for_host = 0;
    for (const auto& item : s.queue) for_host += item.host == host;
    const bool full = s.stopping || s.queue.size() >= s.limits.max_queue || for_host >= s.limits.max_per_host;
    if (full) {
      std::cerr << "hearth: warning: session callback to " << redacted(url) << " dropped: "
                << (s.stopping ? std::string("the server is stopping")
                               : "too many callbacks are already waiting")
                << "." << std::endl;
      return false;
    }
    s.queue.push_back({.id = ++s.next_id, .url = std::move(url), .host = std::move(host),
                       .body = dump_json(body), .key = std::move(key), .due = State::Clock::now()});
  }
  s.cv.notify_all();
  return true;
}

} // namespace hearth::server

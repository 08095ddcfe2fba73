// logs --server; see logs_server.hpp. One GET per page: `?offset=X` while catching up, then
// `?offset=X&live=long-poll` once up to date when following. A follower rides out a server
// restart (dev reloads): it re-reads from its last offset, so nothing is lost or repeated.
#include "cli/logs_server.hpp"
#include "core/json.hpp"
#include "core/url.hpp"

#include "cli/event_printer.hpp"
#include "cli/interrupts.hpp"
#include "core/errors.hpp"
#include "core/text.hpp"
#include "store/offsets.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <thread>

namespace hearth::cli {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

/// How long a follower keeps retrying a server that went away (a dev reload takes milliseconds;
/// a crashed server is reported after this).
constexpr auto k_reconnect_window = std::chrono::seconds(5);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_token(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string::npos;
  });
}

/// What one page read told us.
struct Page {
  json events = json::array();
  std::string next_offset{};
  bool up_to_date = false;
  bool closed = false;
};

class StreamClient {
public:
  StreamClient(const ServerLogsOptions& opts, httplib::Headers headers)
      : m_opts(opts), m_headers(std::move(headers)) {
    const auto [origin, prefix] = split_server_url(opts.server);
    m_origin = origin;
    m_prefix = prefix;
    m_client = std::make_unique<httplib::Client>(origin);
    m_client->set_connection_timeout(std::chrono::seconds(5));
    m_client->set_read_timeout(std::chrono::seconds(45)); // servers park long-polls for 30 s
    m_client->set_write_timeout(std::chrono::seconds(5));
    m_client->set_keep_alive(true);
    m_path = m_prefix + "/runs/" + percent_encode(opts.run_id);
  }

  void stop() { m_client->stop(); }
  std::string url(const std::string& query) const { return m_origin + m_path + query; }

  /// `GET ?meta`: true when the run is active, false when it ended, nullopt when the server has
  /// no meta view (Flue 0.11 ignores the parameter and answers with the events).
  std::optional<bool> probe_active() {
    const auto res = get("?meta");
    if (res->status == 404) throw errors::logs_http_error(m_opts.run_id, url("?meta"), 404, res->body);
    if (res->status != 200) return std::nullopt;
    const auto body = hearth::parse_json_or_discarded(res->body);
    if (!body.is_object() || !body.contains("status") || !body["status"].is_string())
      return std::nullopt;
    return body["status"] == "active";
  }

  /// One page after `offset`; long-polls when `live`. nullopt on a connection failure.
  std::optional<Page> read(const std::string& offset, bool live) {
    const std::string query = "?offset=" + percent_encode(offset) +
                              (live ? "&live=long-poll" : "");
    auto res = m_client->Get(m_path + query, m_headers);
    if (!res) {
      m_last_error = httplib::to_string(res.error());
      return std::nullopt;
    }
    if (res->status == 204 || res->status == 200) {
      Page page;
      page.next_offset = res->get_header_value("Stream-Next-Offset");
      page.up_to_date = lower(res->get_header_value("Stream-Up-To-Date")) == "true";
      page.closed = lower(res->get_header_value("Stream-Closed")) == "true";
      if (res->status == 200) {
        page.events = hearth::parse_json_or_discarded(res->body);
        if (!page.events.is_array())
          throw errors::logs_bad_response(m_opts.run_id, url(query), "the body is not a JSON array");
      } else if (!live) {
        page.up_to_date = true; // 204 on a catch-up read: nothing there
      }
      return page;
    }
    if (res->status >= 502 && res->status <= 504) { // a proxy or a draining server: retry
      m_last_error = "HTTP " + std::to_string(res->status);
      return std::nullopt;
    }
    throw errors::logs_http_error(m_opts.run_id, url(query), res->status, res->body);
  }

  const std::string& last_error() const { return m_last_error; }

private:
  httplib::Result get(const std::string& query) {
    auto res = m_client->Get(m_path + query, m_headers);
    if (!res)
      throw errors::logs_fetch_failed(m_opts.run_id, url(query), httplib::to_string(res.error()));
    return res;
  }

  const ServerLogsOptions& m_opts;
  httplib::Headers m_headers;
  std::string m_origin{}, m_prefix{}, m_path{}, m_last_error{};
  std::unique_ptr<httplib::Client> m_client;
};

/// Prints events, applying --types and --limit; remembers a failing run_end.
class Sink {
public:
  explicit Sink(const ServerLogsOptions& opts) : m_opts(opts), m_printer(std::cerr, true) {}
  /// Handles one event at stream position `seq`; false once --limit is reached.
  bool emit(json event, std::int64_t seq) {
    const std::string type = event.value("type", "");
    if (type == "run_end") {
      m_ended = true;
      if (event.value("isError", false)) m_failed = true;
    }
    if (!m_opts.types.empty() && !m_opts.types.count(type)) return true;
    if (m_opts.format == "ndjson") {
      const auto index = event.find("eventIndex");
      const auto at = index != event.end() && index->is_number_integer() ? index->get<std::int64_t>() : seq;
      event["offset"] = store::format_offset(at);
      std::cout << hearth::dump_json(event) << '\n';
    } else {
      m_printer.print(event);
    }
    return !(m_opts.limit && ++m_emitted >= *m_opts.limit);
  }
  void finish() {
    std::cout << std::flush;
    m_printer.flush();
  }
  bool ended() const { return m_ended; }
  bool failed() const { return m_failed; }

private:
  const ServerLogsOptions& m_opts;
  EventPrinter m_printer;
  long long m_emitted = 0;
  bool m_ended = false;
  bool m_failed = false;
};

std::int64_t seq_of(const std::string& offset) {
  const auto parsed = store::parse_offset(offset);
  return parsed.kind == store::StreamOffset::Kind::after ? parsed.after_seq : -1;
}

} // namespace

std::vector<std::pair<std::string, std::string>>
parse_headers(const std::vector<std::string>& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& header : headers) {
    const auto colon = header.find(':');
    if (colon == std::string::npos) throw errors::invalid_header(header, "expected `Name: value`");
    const std::string name(text::trim(std::string_view(header).substr(0, colon)));
    const std::string value(text::trim(std::string_view(header).substr(colon + 1)));
    if (!is_token(name)) throw errors::invalid_header(header, "the name is not a valid header name");
    if (value.find_first_of("\r\n") != std::string::npos)
      throw errors::invalid_header(header, "the value spans lines");
    if (lower(name) == "accept")
      throw errors::invalid_header(header, "`Accept` is reserved; logs sets it");
    for (const auto& [seen, unused] : out)
      if (lower(seen) == lower(name))
        throw errors::invalid_header(header, "the header `" + seen + "` is given twice");
    out.emplace_back(name, value);
  }
  return out;
}

std::pair<std::string, std::string> split_server_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  const std::string scheme = scheme_end == std::string::npos ? "" : lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https")
    throw errors::invalid_flag("--server", "must be an http:// or https:// URL",
                               "e.g. --server http://127.0.0.1:3583");
  const auto path_start = url.find('/', scheme_end + 3);
  std::string origin = url.substr(0, path_start);
  std::string prefix = path_start == std::string::npos ? "" : url.substr(path_start);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (origin.size() <= scheme_end + 3)
    throw errors::invalid_flag("--server", "has no host", "e.g. --server http://127.0.0.1:3583");
  return {origin, prefix};
}

std::string since_offset(const std::string& since) {
  if (since.empty()) return "-1";
  if (since.find_first_not_of("0123456789") == std::string::npos && since.size() < 17)
    return store::format_offset(std::stoll(since));
  store::parse_offset(since); // validates; throws invalid_offset
  return since;
}

int logs_from_server(const ServerLogsOptions& opts) {
  if (opts.limit && *opts.limit <= 0)
    throw errors::invalid_flag("--limit", "must be a positive integer", "e.g. --limit 20");
  httplib::Headers headers{{"Accept", "application/json"}};
  for (auto& [name, value] : parse_headers(opts.headers)) headers.emplace(name, value);
  std::string offset = since_offset(opts.since);
  StreamClient client(opts, headers);

  std::atomic<bool> stop{false};
  InterruptWatcher interrupts([&](int) {
    stop = true;
    client.stop(); // ends a parked long-poll at once
  });
  // Without --follow/--no-follow: follow active runs, replay ended ones; a server without a meta
  // view is read until its stream says Stream-Closed.
  const bool follow = opts.follow ? *opts.follow : client.probe_active().value_or(true);
  Sink sink(opts);
  bool caught_up = false;
  bool ever_answered = false;
  auto retry_until = Clock::time_point::max();
  while (!stop) {
    auto page = client.read(offset, follow && caught_up);
    if (stop) break;
    if (!page) {
      // Followers ride out a restarting server (dev reload); others fail at once, as flue logs.
      const auto now = Clock::now();
      if (!follow || !ever_answered)
        throw errors::logs_fetch_failed(opts.run_id, client.url("?offset=" + offset), client.last_error());
      if (retry_until == Clock::time_point::max()) retry_until = now + k_reconnect_window;
      if (now >= retry_until)
        throw errors::logs_fetch_failed(opts.run_id, client.url("?offset=" + offset), client.last_error());
      std::this_thread::sleep_for(std::chrono::milliseconds(50)); // reconnect pacing, not a test sleep
      continue;
    }
    ever_answered = true;
    retry_until = Clock::time_point::max();
    std::int64_t seq = seq_of(offset);
    for (auto& event : page->events) {
      if (!sink.emit(std::move(event), ++seq)) {
        sink.finish();
        return exit_code(sink.failed() ? ExitCode::run_failed : ExitCode::ok);
      }
    }
    if (!page->next_offset.empty()) offset = page->next_offset;
    else if (seq >= 0) offset = store::format_offset(seq);
    std::cout << std::flush;
    caught_up = page->up_to_date;
    if (page->closed && page->up_to_date) break;
    if (caught_up && (!follow || sink.ended())) break;
  }
  sink.finish();
  if (const auto code = interrupts.exit_code()) return *code;
  return exit_code(sink.failed() ? ExitCode::run_failed : ExitCode::ok);
}

} // namespace hearth::cli

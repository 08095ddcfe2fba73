// Durable Streams reads; see durable_streams.hpp. Live reads are Producers: the server parks
// them on the store's watchers and steps them when the stream moves (no thread waits).
#include "server/durable_streams.hpp"

#include "core/errors.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"

#include <chrono>
#include <random>

namespace hearth::server {
namespace {

constexpr long long k_cursor_epoch_ms = 1728432000000LL; // 2024-10-09T00:00:00Z
constexpr long long k_cursor_interval_ms = 20000;

long long wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

json page_json(const store::ReadResult& page) {
  json out = json::array();
  for (const auto& e : page.events) out.push_back(store::to_json(e));
  return out;
}

struct Query {
  bool has_offset = false;
  store::StreamOffset offset{};
  std::string offset_text = "-1";
  std::string live{}; // "", "long-poll", "sse"
  long long tail = 0; // 0: none
  std::string cursor{};
};

Query parse_query(const Request& req) {
  Query q;
  if (req.has_param("offset")) {
    q.has_offset = true;
    q.offset_text = req.get_param_value("offset");
    try {
      q.offset = store::parse_offset(q.offset_text);
    } catch (const Error&) {
      throw errors::invalid_request("Invalid offset format.");
    }
  }
  if (req.has_param("live")) {
    q.live = req.get_param_value("live");
    if (q.live != "long-poll" && q.live != "sse")
      throw errors::invalid_request("Invalid live mode. Use \"long-poll\" or \"sse\".");
    if (!q.has_offset) throw errors::invalid_request("Offset is required for live mode.");
  }
  if (req.has_param("tail")) {
    const auto text = req.get_param_value("tail");
    long long n = 0;
    bool ok = !text.empty() && text.size() <= 9;
    for (char c : text) ok = ok && c >= '0' && c <= '9';
    if (ok) n = std::stoll(text);
    if (!ok || n < 1) throw errors::invalid_request("Invalid tail. Use a positive integer.");
    q.tail = n;
  }
  q.cursor = req.get_param_value("cursor");
  return q;
}

void stream_headers(Response& res, const store::ReadResult& page) {
  res.set_header("Stream-Next-Offset", page.next_offset());
  if (page.up_to_date) res.set_header("Stream-Up-To-Date", "true");
  if (page.closed) res.set_header("Stream-Closed", "true");
}

void serve_catch_up(const Request& req, Response& res, ServerContext& ctx,
                    const std::string& path, const Query& q, std::int64_t after) {
  auto& store = ctx.runtime.store();
  store::ReadResult page;
  if (q.tail > 0 && q.offset.kind == store::StreamOffset::Kind::start) {
    const auto info = store.stream_info(path);
    const std::int64_t last = info ? info->last_seq : -1;
    after = std::max<std::int64_t>(-1, last - q.tail);
  }
  page = store.read(path, after, store::k_default_page);
  const auto etag =
      stream_etag(path, q.has_offset ? q.offset_text : "-1", page.next_offset(), page.closed);
  res.set_header("cache-control", "no-store");
  stream_headers(res, page);
  res.set_header("ETag", etag);
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  send_json(res, 200, page_json(page));
}

/// Long-poll: answers 200 with the first page of new events, or 204 at the deadline.
class LongPoll final : public Producer {
public:
  LongPoll(ServerContext& ctx, std::string path, std::string cursor, std::int64_t after)
      : m_ctx(ctx), m_path(std::move(path)), m_cursor(std::move(cursor)), m_after(after),
        m_deadline(Clock::now() + ctx.options.long_poll_timeout) {}

  bool chunked() const override { return false; }

  std::optional<Wake> step(Response& res, std::string&, bool stopping) override {
    const auto page = m_ctx.runtime.store().read(m_path, m_after, store::k_default_page);
    if (!page.events.empty()) {
      res.set_header("cache-control", "no-store");
      stream_headers(res, page);
      res.set_header("Stream-Cursor", stream_cursor(m_cursor));
      send_json(res, 200, page_json(page));
      return std::nullopt;
    }
    if (page.closed || Clock::now() >= m_deadline || stopping) {
      res.status = 204;
      stream_headers(res, page);
      res.set_header("Stream-Up-To-Date", "true");
      res.set_header("Stream-Cursor", stream_cursor(m_cursor));
      return std::nullopt;
    }
    return Wake{m_path, m_after, m_deadline};
  }

private:
  ServerContext& m_ctx;
  std::string m_path;
  std::string m_cursor;
  std::int64_t m_after;
  Clock::time_point m_deadline;
};

/// SSE: `event: data` / `event: control` frames, heartbeats, closed after sse_lifetime.
class Sse final : public Producer {
public:
  Sse(ServerContext& ctx, std::string path, std::string cursor, std::int64_t after)
      : m_ctx(ctx), m_path(std::move(path)), m_cursor(std::move(cursor)), m_after(after),
        m_last_frame(Clock::now()), m_end(Clock::now() + ctx.options.sse_lifetime) {}

  bool chunked() const override { return true; }

  std::optional<Wake> step(Response&, std::string& out, bool stopping) override {
    auto& store = m_ctx.runtime.store();
    // Bounded work per step: a few pages, then yield back to the server (it steps again at once).
    for (int pages = 0; pages < 4; ++pages) {
      const auto page = store.read(m_path, m_after, store::k_default_page);
      const auto now = Clock::now();
      if (page.events.empty() && !page.closed &&
          now - m_last_frame < m_ctx.options.sse_heartbeat)
        break;
      if (!page.events.empty()) out += "event: data\ndata:" + wire(page_json(page)) + "\n\n";
      nlohmann::ordered_json control = {{"streamNextOffset", page.next_offset()}};
      if (page.closed) {
        control["streamClosed"] = true;
      } else {
        control["streamCursor"] = stream_cursor(m_cursor);
        if (page.up_to_date) control["upToDate"] = true;
      }
      out += "event: control\ndata:" + control.dump() + "\n\n";
      m_after = page.next_seq;
      m_last_frame = now;
      if (page.closed) return std::nullopt;
      if (page.up_to_date) break;
      if (pages == 3) return Wake{"", m_after, now}; // more pages: come back right away
    }
    const auto now = Clock::now();
    if (stopping || now >= m_end) return std::nullopt;
    return Wake{m_path, m_after, std::min(m_last_frame + m_ctx.options.sse_heartbeat, m_end)};
  }

private:
  ServerContext& m_ctx;
  std::string m_path;
  std::string m_cursor;
  std::int64_t m_after;
  Clock::time_point m_last_frame;
  Clock::time_point m_end;
};

} // namespace

std::string base64(std::string_view bytes) {
  static const char* alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string stream_cursor(const std::string& client_cursor) {
  long long current = (wall_ms() - k_cursor_epoch_ms) / k_cursor_interval_ms;
  if (!client_cursor.empty() && client_cursor.size() < 18 &&
      client_cursor.find_first_not_of("0123456789") == std::string::npos) {
    const long long client = std::stoll(client_cursor);
    if (client >= current) {
      thread_local std::mt19937 rng{std::random_device{}()};
      current = client + std::uniform_int_distribution<int>(1, 180)(rng);
    }
  }
  return std::to_string(current);
}

std::string stream_etag(const std::string& path, const std::string& start,
                        const std::string& end, bool closed) {
  return "\"" + base64(path) + ":" + start + ":" + end + (closed ? ":c" : "") + "\"";
}

void serve_stream(const Request& req, Response& res, ServerContext& ctx,
                  const std::string& path, const hearth::Error& missing) {
  const auto info = ctx.runtime.store().stream_info(path);
  if (!info) throw missing; // existence first: a bad query on an unknown run is still a 404
  const auto q = parse_query(req);
  std::int64_t after = -1;
  if (q.offset.kind == store::StreamOffset::Kind::now) after = info->last_seq;
  if (q.offset.kind == store::StreamOffset::Kind::after) after = q.offset.after_seq;
  res.set_header("X-Content-Type-Options", "nosniff");
  if (q.live.empty() || req.method == "HEAD") return serve_catch_up(req, res, ctx, path, q, after);
  if (q.live == "long-poll") {
    res.producer = std::make_shared<LongPoll>(ctx, path, q.cursor, after);
    return;
  }
  res.set_header("cache-control", "no-cache");
  res.set_header("Content-Type", "text/event-stream");
  res.producer = std::make_shared<Sse>(ctx, path, q.cursor, after);
}

} // namespace hearth::server

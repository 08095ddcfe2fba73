// Durable Streams reads; see durable_streams.hpp. Nothing here waits longer than k_wait_slice
// without re-checking the client, the deadline and the server's stopping flag.
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

Query parse_query(const httplib::Request& req) {
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

void stream_headers(httplib::Response& res, const store::ReadResult& page) {
  res.set_header("Stream-Next-Offset", page.next_offset());
  if (page.up_to_date) res.set_header("Stream-Up-To-Date", "true");
  if (page.closed) res.set_header("Stream-Closed", "true");
}

/// Writes all of `text` or reports the client gone.
bool write_all(httplib::DataSink& sink, const std::string& text) {
  return sink.write(text.data(), text.size());
}

void serve_catch_up(const httplib::Request& req, httplib::Response& res, ServerContext& ctx,
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

void serve_long_poll(httplib::Response& res, ServerContext& ctx,
                     const std::string& path, const Query& q, std::int64_t after) {
  auto& store = ctx.runtime.store();
  const auto deadline = Clock::now() + ctx.options.long_poll_timeout;
  for (;;) {
    const auto page = store.read(path, after, store::k_default_page);
    if (!page.events.empty()) {
      res.set_header("cache-control", "no-store");
      stream_headers(res, page);
      res.set_header("Stream-Cursor", stream_cursor(q.cursor));
      send_json(res, 200, page_json(page));
      return;
    }
    const auto now = Clock::now();
    if (page.closed || now >= deadline || ctx.stopping.load()) {
      res.status = 204;
      stream_headers(res, page);
      res.set_header("Stream-Up-To-Date", "true");
      res.set_header("Stream-Cursor", stream_cursor(q.cursor));
      return;
    }
    store.wait_for_events(path, after, std::min(deadline, now + k_wait_slice));
  }
}

void serve_sse(httplib::Response& res, ServerContext& ctx, const std::string& path,
               const Query& q, std::int64_t after) {
  struct State {
    std::int64_t after = -1;
    Clock::time_point last_frame{};
    Clock::time_point end{};
    std::string cursor{};
  };
  auto state = std::make_shared<State>();
  state->after = after;
  state->last_frame = Clock::now();
  state->end = Clock::now() + ctx.options.sse_lifetime;
  state->cursor = q.cursor;
  res.set_header("cache-control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [&ctx, path, state](std::size_t, httplib::DataSink& sink) {
        auto& store = ctx.runtime.store();
        const auto page = store.read(path, state->after, store::k_default_page);
        const auto now = Clock::now();
        if (!page.events.empty() || page.closed ||
            now - state->last_frame >= ctx.options.sse_heartbeat) {
          std::string frame;
          if (!page.events.empty()) frame = "event: data\ndata:" + wire(page_json(page)) + "\n\n";
          nlohmann::ordered_json control = {{"streamNextOffset", page.next_offset()}};
          if (page.closed) {
            control["streamClosed"] = true;
          } else {
            control["streamCursor"] = stream_cursor(state->cursor);
            if (page.up_to_date) control["upToDate"] = true;
          }
          frame += "event: control\ndata:" + control.dump() + "\n\n";
          if (!write_all(sink, frame)) return false;
          state->after = page.next_seq;
          state->last_frame = now;
          if (page.closed) {
            sink.done();
            return true;
          }
          if (!page.up_to_date) return true; // more pages right away
        }
        if (ctx.stopping.load() || now >= state->end) {
          sink.done();
          return true;
        }
        const auto heartbeat_at = state->last_frame + ctx.options.sse_heartbeat;
        store.wait_for_events(path, state->after,
                              std::min({heartbeat_at, state->end, now + k_wait_slice}));
        return true;
      });
}

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

void serve_stream(const httplib::Request& req, httplib::Response& res, ServerContext& ctx,
                  const std::string& path, const hearth::Error& missing) {
  const auto info = ctx.runtime.store().stream_info(path);
  if (!info) throw missing; // existence first: a bad query on an unknown run is still a 404
  const auto q = parse_query(req);
  std::int64_t after = -1;
  if (q.offset.kind == store::StreamOffset::Kind::now) after = info->last_seq;
  if (q.offset.kind == store::StreamOffset::Kind::after) after = q.offset.after_seq;
  res.set_header("X-Content-Type-Options", "nosniff");
  if (q.live.empty() || req.method == "HEAD") return serve_catch_up(req, res, ctx, path, q, after);
  if (q.live == "long-poll") return serve_long_poll(res, ctx, path, q, after);
  serve_sse(res, ctx, path, q, after);
}

} // namespace hearth::server

// Streamed JSON POSTs for the model clients: see http.hpp. Retry policy follows the OpenAI and
// Anthropic SDKs (retry 408/409/429/5xx, honour retry-after[-ms] and x-should-retry).
#include "providers/http.hpp"
#include "core/json.hpp"

#include "core/cancel.hpp"
#include "core/errors.hpp"
#include "core/text.hpp"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <optional>
#include <thread>

namespace hearth::providers {
namespace {

constexpr std::size_t k_max_error_body = 64 * 1024;

std::string scrub(std::string text, std::string_view secret) {
  if (secret.size() < 4)
    return text; // a tiny "key" would blank out ordinary words
  for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
    text.replace(pos, secret.size(), "***");
  return text;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// The delay a response asks for: retry-after-ms, else retry-after in seconds (HTTP dates are
/// rare on model APIs and fall back to our own backoff).
std::optional<std::chrono::milliseconds> retry_after(const httplib::Headers& headers) {
  const auto number = [&](const char* name) -> std::optional<double> {
    const auto it = headers.find(name);
    if (it == headers.end())
      return std::nullopt;
    try {
      std::size_t used = 0;
      const double v = std::stod(it->second, &used);
      if (used == 0 || !std::isfinite(v) || v < 0)
        return std::nullopt;
      return v;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
  if (const auto ms = number("retry-after-ms"))
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(*ms, 1e9)));
  if (const auto s = number("retry-after"))
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(*s, 1e6) * 1000));
  return std::nullopt;
}

bool status_is_retryable(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

std::string error_code(std::string_view body) {
  const auto j = hearth::parse_json_or_discarded(body);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object())
    return {};
  const auto& e = j["error"];
  for (const char* key : {"code", "type"})
    if (e.contains(key) && e[key].is_string()) {
      const auto v = e[key].get<std::string>();
      if (v == "insufficient_quota")
        return v;
    }
  return {};
}

struct Attempt {
  int status = 0;
  httplib::Headers headers{};
  std::string error_body{};
  httplib::Error transport = httplib::Error::Success;
  std::exception_ptr consumer_error{};
  bool body_started = false;
};

Attempt attempt(httplib::Client& client, const PostRequest& request, const std::string& path,
                const std::function<void(std::string_view)>& on_body) {
  Attempt a;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  for (const auto& [k, v] : request.headers)
    req.headers.emplace(k, v);
  req.body = request.body;
  req.response_handler = [&a](const httplib::Response& res) {
    a.status = res.status;
    a.headers = res.headers;
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    if (a.status < 200 || a.status >= 300) {
      a.error_body.append(
          data, std::min(n, k_max_error_body - std::min(k_max_error_body, a.error_body.size())));
      return true;
    }
    a.body_started = true;
    if (request.cancel.stop_requested()) return false; // the turn was cancelled: stop reading
    try {
      on_body(std::string_view(data, n));
      return true;
    } catch (...) {
      a.consumer_error = std::current_exception(); // never unwind through httplib
      return false;
    }
  };
  httplib::Response res;
  client.send(req, res, a.transport);
  return a;
}

std::chrono::milliseconds backoff(const HttpOptions& http, int retry) {
  auto d = http.backoff_base * (1LL << std::min(retry, 20));
  return std::min<std::chrono::milliseconds>(d, http.backoff_max);
}

[[noreturn]] void raise_status(const PostRequest& request, const Attempt& a, int attempts) {
  const auto message = error_body_message(a.error_body, request.secret);
  const int s = a.status;
  if (s == 401 || s == 403)
    throw errors::provider_auth_failed(request.provider, s, request.key_env, message);
  if (s == 429 && error_code(a.error_body) == "insufficient_quota")
    throw errors::provider_quota_exceeded(request.provider, message);
  if (s == 429)
    throw errors::provider_rate_limited(request.provider, message, attempts);
  if (s >= 500)
    throw errors::provider_unavailable(request.provider, s, message, attempts);
  if (s >= 400 && s < 500)
    throw errors::provider_bad_request(request.provider, s, message);
  throw errors::provider_http_error(request.provider, s, message);
}

} // namespace

BaseUrl split_base_url(std::string_view provider, std::string_view base_url) {
  const auto scheme_end = base_url.find("://");
  const auto scheme =
      scheme_end == std::string_view::npos ? std::string_view{} : base_url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw errors::provider_config_invalid(provider, "baseUrl \"" + redact_url(base_url) +
                                                        "\" is not an http(s) URL");
  const auto path_start = base_url.find('/', scheme_end + 3);
  BaseUrl out;
  out.scheme_host_port = std::string(base_url.substr(0, path_start));
  if (out.scheme_host_port.size() == scheme_end + 3)
    throw errors::provider_config_invalid(provider, "baseUrl has no host");
  if (path_start != std::string_view::npos) {
    auto path = base_url.substr(path_start);
    path = path.substr(0, path.find_first_of("?#"));
    while (!path.empty() && path.back() == '/')
      path.remove_suffix(1);
    out.path_prefix = std::string(path);
  }
  return out;
}

std::string redact_url(std::string_view url) {
  std::string out(url.substr(0, url.find_first_of("?#")));
  const auto scheme_end = out.find("://");
  const auto host_start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto at = out.find('@', host_start);
  if (at != std::string::npos && at < out.find('/', host_start))
    out.erase(host_start, at + 1 - host_start);
  return out;
}

std::string error_body_message(std::string_view body, std::string_view secret) {
  std::string message;
  const auto j = hearth::parse_json_or_discarded(body);
  if (j.is_object()) {
    const Json* e = j.contains("error") ? &j["error"] : &j;
    if (e->is_string())
      message = e->get<std::string>();
    else if (e->is_object()) {
      for (const char* key : {"message", "detail", "error"})
        if (e->contains(key) && (*e)[key].is_string()) {
          message = (*e)[key].get<std::string>();
          break;
        }
    }
  }
  if (message.empty())
    message = std::string(body.substr(0, 500));
  message = scrub(std::string(text::trim(message)), secret);
  if (message.size() > 500)
    message = message.substr(0, 497) + "...";
  return message.empty() ? "(no message)" : message;
}

void post_streaming(const PostRequest& request, const ProviderSettings& settings,
                    const std::function<void(std::string_view)>& on_body) {
  const auto base = split_base_url(request.provider, request.base_url);
  const auto path = base.path_prefix + request.path;
  const auto shown_url = redact_url(base.scheme_host_port + path);
  const auto& http = settings.http;
  httplib::Client client(base.scheme_host_port);
  client.set_connection_timeout(http.connect_timeout);
  client.set_read_timeout(http.read_timeout);
  client.set_write_timeout(http.write_timeout);
  client.set_keep_alive(false);
  // Cancelling shuts the socket down, which wakes a read blocked on a silent model at once.
  std::stop_callback abort_stream(request.cancel, [&client] { client.stop(); });
  for (int attempt_no = 1;; ++attempt_no) {
    if (request.cancel.stop_requested())
      throw errors::turn_cancelled();
    if (settings.log)
      settings.log("POST " + shown_url + " (attempt " + std::to_string(attempt_no) + ")");
    auto a = attempt(client, request, path, on_body);
    if (request.cancel.stop_requested())
      throw errors::turn_cancelled();
    if (a.consumer_error)
      std::rethrow_exception(a.consumer_error);
    const bool answered = a.status != 0;
    if (answered && a.status >= 200 && a.status < 300) {
      if (a.transport == httplib::Error::Success)
        return;
      throw errors::provider_connection_failed(
          request.provider, shown_url,
          "the stream broke off (" + httplib::to_string(a.transport) + ")", attempt_no);
    }
    bool retry = answered ? status_is_retryable(a.status) : true;
    if (answered && a.status == 429 && error_code(a.error_body) == "insufficient_quota")
      retry = false;
    const auto should = answered ? lower(a.headers.count("x-should-retry")
                                             ? a.headers.find("x-should-retry")->second
                                             : "")
                                 : std::string();
    if (should == "true")
      retry = true;
    if (should == "false")
      retry = false;
    auto delay = backoff(http, attempt_no - 1);
    if (const auto asked = answered ? retry_after(a.headers) : std::nullopt) {
      if (*asked > http.max_retry_after)
        retry = false;
      delay = *asked;
    }
    if (!retry || attempt_no > http.max_retries) {
      if (!answered)
        throw errors::provider_connection_failed(request.provider, shown_url,
                                                 httplib::to_string(a.transport), attempt_no);
      raise_status(request, a, attempt_no);
    }
    if (settings.log)
      settings.log(
          "retrying in " + std::to_string(delay.count()) + " ms after " +
          (answered ? "HTTP " + std::to_string(a.status) : httplib::to_string(a.transport)));
    if (cancel::sleep_for(request.cancel, delay))
      throw errors::turn_cancelled();
  }
}

} // namespace hearth::providers

// Request/Response helpers and the segment router; see http.hpp.
#include "server/http.hpp"

#include <algorithm>

namespace hearth::server {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <class Pairs>
const std::string* find_ci(const Pairs& pairs, std::string_view name) {
  for (const auto& [k, v] : pairs)
    if (iequals(k, name)) return &v;
  return nullptr;
}

} // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string url_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && c == '+' ? ' ' : c;
  }
  return out;
}

bool split_target(std::string_view target, std::string& raw_path, std::string& path,
                  std::vector<std::pair<std::string, std::string>>& query) {
  if (target.empty() || target.front() != '/') return false;
  const auto q = target.find('?');
  raw_path = std::string(target.substr(0, q));
  path = url_decode(raw_path, false);
  query.clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    query.emplace_back(url_decode(pair.substr(0, eq), true),
                       eq == std::string_view::npos ? std::string{}
                                                    : url_decode(pair.substr(eq + 1), true));
  }
  return true;
}

bool Request::has_param(std::string_view name) const {
  return std::any_of(query.begin(), query.end(), [&](const auto& kv) { return kv.first == name; });
}

std::string Request::get_param_value(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return {};
}

std::string Request::get_header_value(std::string_view name) const {
  const auto* v = find_ci(headers, name);
  return v ? *v : std::string{};
}

bool Request::has_header(std::string_view name) const { return find_ci(headers, name) != nullptr; }

void Response::set_header(std::string_view name, std::string_view value) {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) {
      v = std::string(value);
      return;
    }
  headers.emplace_back(std::string(name), std::string(value));
}

std::string Response::get_header_value(std::string_view name) const {
  const auto* v = find_ci(headers, name);
  return v ? *v : std::string{};
}

bool Response::has_header(std::string_view name) const { return find_ci(headers, name) != nullptr; }

void Response::set_content(std::string content, std::string_view content_type) {
  body = std::move(content);
  set_header("Content-Type", content_type);
}

void Router::add(const std::string& pattern, std::vector<std::string> allowed, Handler handler,
                 bool strict_methods) {
  Route route;
  std::string_view rest = pattern;
  while (!rest.empty()) {
    rest.remove_prefix(1); // the '/'
    const auto slash = rest.find('/');
    route.segments.emplace_back(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  route.allowed = std::move(allowed);
  route.handler = std::move(handler);
  route.strict = strict_methods;
  m_routes.push_back(std::move(route));
}

Router::Match Router::match(std::string_view method, std::string_view raw_path,
                            std::size_t max_param_bytes) const {
  Match result;
  if (raw_path.empty() || raw_path.front() != '/') return result;
  std::vector<std::string_view> segments;
  std::string_view rest = raw_path;
  while (!rest.empty()) {
    rest.remove_prefix(1);
    const auto slash = rest.find('/');
    segments.push_back(rest.substr(0, slash));
    if (segments.size() > 16) return result; // deeper than any route
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  }
  for (const auto& route : m_routes) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (std::size_t i = 0; ok && i < segments.size(); ++i) {
      const auto& want = route.segments[i];
      if (!want.empty() && want.front() == ':') {
        auto value = url_decode(segments[i], false);
        ok = !value.empty() && value.size() <= max_param_bytes;
        params.push_back(std::move(value));
      } else {
        ok = url_decode(segments[i], false) == want;
      }
    }
    if (!ok) continue;
    const auto served = [&](std::string_view m) {
      return std::find(route.allowed.begin(), route.allowed.end(), m) != route.allowed.end();
    };
    if (served(method) || (method == "HEAD" && served("GET"))) {
      result.outcome = Outcome::matched;
      result.handler = &route.handler;
      result.params = std::move(params);
      return result;
    }
    if (route.strict && result.outcome == Outcome::not_found) {
      result.outcome = Outcome::method_not_allowed;
      result.allowed = route.allowed;
    }
  }
  return result;
}

} // namespace hearth::server

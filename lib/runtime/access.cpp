// Access rules, workspace grants and invoker profiles; see access.hpp.
#include "runtime/access.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/process.hpp"

#include <algorithm>
#include <chrono>

namespace hearth::runtime {

using nlohmann::json;

namespace {

bool id_matches(const std::string& pattern, const std::string& id) {
  if (!pattern.empty() && pattern.back() == '*')
    return id.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  return pattern == id;
}

bool listed(const json& list, const json& value, bool prefix = false) {
  if (!value.is_string()) return false;
  const auto text = value.get<std::string>();
  const json items = list.is_array() ? list : json::array({list});
  for (const auto& item : items)
    if (item.is_string() && (prefix ? id_matches(item.get<std::string>(), text) : item == text))
      return true;
  return false;
}

/// `{{invoker.id}}`, `{{invoker.kind}}`, `{{invoker.meta.<key>}}` in a grant path.
std::string fill(std::string path, const json& invoker) {
  for (std::size_t at = path.find("{{"); at != std::string::npos; at = path.find("{{", at)) {
    const auto end = path.find("}}", at);
    if (end == std::string::npos) break;
    auto key = path.substr(at + 2, end - at - 2);
    while (!key.empty() && key.front() == ' ') key.erase(0, 1);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    json value;
    if (key == "invoker.id" || key == "invoker.kind" || key == "invoker.label")
      value = invoker.value(key.substr(8), json());
    else if (key.rfind("invoker.meta.", 0) == 0 && invoker.contains("meta"))
      value = invoker["meta"].value(key.substr(13), json());
    const auto text = value.is_string() ? value.get<std::string>() : value.is_number() ? value.dump() : "";
    path.replace(at, end + 2 - at, text);
    at += text.size();
  }
  return path;
}

bool safe_relative(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    // "." too: `customers/{{invoker.meta.customer}}` with customer "." must not grant them all.
    if (part == ".." || part == "." || part.empty()) return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return true;
}

} // namespace

std::optional<std::string> access_denied_by(const json& access, const json& invoker) {
  if (!access.is_object()) return std::nullopt;
  const bool known = invoker.is_object() && invoker.contains("id");
  if (access.contains("kinds") && (!known || !listed(access["kinds"], invoker.value("kind", json()))))
    return "access.kinds";
  if (access.contains("ids") && (!known || !listed(access["ids"], invoker["id"], true)))
    return "access.ids";
  if (access.contains("meta") && access["meta"].is_object())
    for (const auto& [key, wanted] : access["meta"].items()) {
      const json meta = known && invoker.contains("meta") ? invoker["meta"] : json::object();
      const json have = meta.is_object() ? meta.value(key, json()) : json();
      const bool ok = wanted.is_array() ? std::find(wanted.begin(), wanted.end(), have) != wanted.end()
                                        : have == wanted;
      if (!ok) return "access.meta." + key;
    }
  return std::nullopt;
}

void check_access(const json& access, const json& invoker, const std::string& target) {
  if (const auto rule = access_denied_by(access, invoker))
    throw errors::access_denied(target, *rule);
}

json WorkspaceGrant::to_json() const {
  return all ? json{{"all", true}} : json{{"grants", paths}};
}

WorkspaceGrant workspace_grant(const json& access, const json& invoker) {
  WorkspaceGrant grant;
  if (!access.is_object() || !access.contains("workspace") || !access["workspace"].is_object())
    return grant;
  const auto& ws = access["workspace"];
  // `all` may be limited to invokers whose meta matches, e.g. {"all": {"scope": "all"}}.
  if (ws.contains("all")) {
    const auto& all = ws["all"];
    if (all == true) return grant;
    if (all.is_object() && !access_denied_by({{"meta", all}}, invoker)) return grant;
  }
  grant.all = false;
  if (ws.contains("grants") && ws["grants"].is_array())
    for (const auto& g : ws["grants"]) {
      if (!g.is_object() || !g.contains("path") || !g["path"].is_string()) continue;
      auto path = fill(g["path"].get<std::string>(), invoker);
      if (safe_relative(path) && grant.paths.size() < 64) grant.paths.push_back(path);
    }
  return grant;
}

json select_profile(const json& invoker_config, const json& requested, const json& context,
                    bool may_select, const std::string& target) {
  if (!context.is_object()) return requested;
  json wanted;
  for (const char* key : {"invoker.profileId", "invokerProfileId", "invoker.profile", "invokerProfile"})
    if (context.contains(key) && context[key].is_string()) {
      wanted = context[key];
      break;
    }
  if (wanted.is_null()) return requested;
  if (!may_select) throw errors::access_denied(target, "invoker.profiles: the caller may not select profiles");
  const json profiles = invoker_config.is_object() ? invoker_config.value("profiles", json::array())
                                                   : json::array();
  for (const auto& p : profiles) {
    if (!p.is_object() || p.value("id", json()) != wanted) continue;
    json out = {{"id", p["id"]}};
    for (const char* key : {"kind", "label"})
      if (p.contains(key) && p[key].is_string()) out[key] = p[key];
    // Request metadata is kept; profile metadata overrides matching keys (seed 002).
    json meta = requested.is_object() && requested.contains("meta") && requested["meta"].is_object()
                    ? requested["meta"] : json::object();
    if (p.contains("meta") && p["meta"].is_object())
      for (const auto& [k, v] : p["meta"].items()) meta[k] = v;
    if (!meta.empty()) out["meta"] = meta;
    return out;
  }
  throw errors::access_denied(target, "invoker.profiles: no profile \"" + wanted.get<std::string>() + "\"");
}

namespace {

/// The invoker a resolver answered, normalized, or nullopt when it is not one.
std::optional<json> answered_invoker(const json& answer) {
  if (!answer.is_object() || !answer.contains("invoker") || !answer["invoker"].is_object())
    return std::nullopt;
  const auto& in = answer["invoker"];
  if (!in.contains("id") || !in["id"].is_string() || in["id"].get<std::string>().empty() ||
      in["id"].get<std::string>().size() > 512)
    return std::nullopt;
  json out = {{"id", in["id"]}};
  for (const char* key : {"kind", "label"}) {
    if (!in.contains(key) || in[key].is_null()) continue;
    if (!in[key].is_string()) return std::nullopt;
    out[key] = in[key];
  }
  if (in.contains("meta") && !in["meta"].is_null()) {
    if (!in["meta"].is_object()) return std::nullopt;
    out["meta"] = in["meta"];
  }
  return out;
}

bool is_under(const std::string& path, const std::string& base) {
  return path == base || (path.size() > base.size() && path.compare(0, base.size(), base) == 0 &&
                          path[base.size()] == '/');
}

} // namespace

Invocation resolve_invocation(const json& invoker_config, const std::filesystem::path& agent_dir,
                              const json& authenticated, const json& context, bool may_select,
                              const std::string& target) {
  Invocation out{.invoker = select_profile(invoker_config, authenticated, context, may_select, target)};
  if (!invoker_config.is_object() || !invoker_config.contains("resolve")) return out;
  const auto deny = [&](const std::string& why) {
    return errors::access_denied(target, "invoker.resolve: " + why);
  };
  const auto& resolve = invoker_config["resolve"];
  std::vector<std::string> argv;
  if (resolve.is_object() && resolve.contains("command") && resolve["command"].is_array())
    for (const auto& part : resolve["command"])
      if (part.is_string()) argv.push_back(part.get<std::string>());
  if (argv.empty()) throw deny("no command");
  if (argv[0].find('/') != std::string::npos && argv[0][0] != '/')
    argv[0] = (agent_dir / argv[0]).lexically_normal().string();
  const json timeout_value = resolve.value("timeoutMs", json(5000));
  const auto timeout = std::chrono::milliseconds(std::clamp<long long>(
      timeout_value.is_number_integer() ? timeout_value.get<long long>() : 5000, 1, 60'000));
  const json input = {{"context", context.is_object() ? context : json::object()},
                      {"defaultInvoker", authenticated},
                      {"selectedProfile", out.invoker == authenticated ? json() : out.invoker}};
  process::CaptureResult r;
  try {
    r = process::run_capture(argv, hearth::dump_json(input) + "\n", timeout, std::nullopt,
                             agent_dir, k_max_resolver_output);
  } catch (const Error&) {
    throw deny("the resolver did not start");
  }
  if (r.timed_out) throw deny("the resolver timed out after " + std::to_string(timeout.count()) + " ms");
  if (r.exit_code != 0) throw deny("the resolver failed (" + r.status.describe() + ")");
  if (r.out_truncated)
    throw deny("the resolver printed more than " + std::to_string(k_max_resolver_output) + " bytes");
  const auto answer = hearth::parse_json_or_discarded(r.out);
  const auto invoker = answered_invoker(answer);
  if (!invoker) throw deny("the resolver answered no invoker {\"invoker\": {\"id\": ...}}");
  out.invoker = *invoker;
  if (answer.contains("context") && !answer["context"].is_null()) {
    const auto& values = answer["context"];
    if (!values.is_object()) throw deny("its \"context\" is not an object");
    if (values.size() > k_max_context_values)
      throw deny("its \"context\" has more than " + std::to_string(k_max_context_values) + " keys");
    out.context = values;
  }
  return out;
}

WorkspaceGrant intersect(const WorkspaceGrant& a, const WorkspaceGrant& b) {
  if (a.all) return b;
  if (b.all) return a;
  WorkspaceGrant out{.all = false};
  auto keep = [&](const std::string& path) {
    if (std::find(out.paths.begin(), out.paths.end(), path) == out.paths.end())
      out.paths.push_back(path);
  };
  for (const auto& p : a.paths)
    for (const auto& q : b.paths) {
      if (is_under(p, q)) keep(p);
      else if (is_under(q, p)) keep(q);
    }
  return out;
}

} // namespace hearth::runtime

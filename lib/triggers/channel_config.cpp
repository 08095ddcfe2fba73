// Channel spec parsing; see channel_config.hpp.
#include "triggers/channel_config.hpp"

#include <cctype>
#include <set>

namespace hearth::triggers {
namespace {

using nlohmann::json;

const std::set<std::string> k_keys = {"type",      "secretEnv",   "bodyLimit",      "surfaces",
                                      "path",      "signature",   "timestamp",      "eventHeader",
                                      "deliveryHeader", "dispatch", "handler",       "description"};

bool valid_env_name(const std::string& s) {
  if (s.empty() || s.size() > 128 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool valid_header_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (const char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

/// A route suffix: "/x" or "/x/y", no query, no `.`/`..` segments (seed 003's route rules).
bool valid_suffix(const std::string& s) {
  if (s.size() < 2 || s.size() > 200 || s[0] != '/' || s.back() == '/') return false;
  std::size_t start = 1;
  while (start <= s.size()) {
    auto end = s.find('/', start);
    if (end == std::string::npos) end = s.size();
    const auto seg = s.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (const char c : seg)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
        return false;
    start = end + 1;
  }
  return true;
}

std::optional<std::string> string_at(const json& config, const char* key,
                                     std::vector<std::string>& problems) {
  const auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  if (!it->is_string()) {
    problems.push_back(std::string("\"") + key + "\" must be a string.");
    return std::nullopt;
  }
  return it->get<std::string>();
}

void parse_dispatch(const json& value, ChannelDef& def, std::vector<std::string>& problems) {
  if (!value.is_object()) {
    problems.push_back("\"dispatch\" must be an object {agent?, id?, input?, events?}.");
    return;
  }
  DispatchMapping m;
  for (const auto& [key, _] : value.items())
    if (key != "agent" && key != "id" && key != "input" && key != "events")
      problems.push_back("\"dispatch\" has an unknown key \"" + key + "\".");
  if (auto agent = string_at(value, "agent", problems)) m.agent = *agent;
  if (auto id = string_at(value, "id", problems)) {
    if (id->empty() || id->size() > 512) problems.push_back("\"dispatch.id\" must be 1-512 characters.");
    m.id = *id;
  }
  if (value.contains("input")) m.input = value["input"];
  if (value.contains("events")) {
    const auto& events = value["events"];
    if (!events.is_array()) {
      problems.push_back("\"dispatch.events\" must be an array of event names.");
    } else {
      for (const auto& e : events) {
        if (!e.is_string()) problems.push_back("\"dispatch.events\" must hold strings.");
        else m.events.push_back(e.get<std::string>());
      }
    }
  }
  def.dispatch = std::move(m);
}

void parse_handler(const json& value, ChannelDef& def, std::vector<std::string>& problems) {
  const json* command = &value;
  if (value.is_object()) {
    if (!value.contains("command")) {
      problems.push_back("\"handler\" needs \"command\": [program, args...].");
      return;
    }
    command = &value["command"];
    for (const auto& [key, _] : value.items())
      if (key != "command" && key != "timeoutMs" && key != "env")
        problems.push_back("\"handler\" has an unknown key \"" + key + "\".");
    if (value.contains("timeoutMs")) {
      const auto& t = value["timeoutMs"];
      if (!t.is_number_integer() || t.get<long long>() < 1 ||
          t.get<long long>() > k_max_handler_timeout_ms)
        problems.push_back("\"handler.timeoutMs\" must be an integer from 1 to " +
                           std::to_string(k_max_handler_timeout_ms) + " (ms).");
      else def.handler_timeout_ms = t.get<int>();
    }
    if (value.contains("env")) {
      const auto& env = value["env"];
      if (!env.is_array() || env.size() > 64) {
        problems.push_back("\"handler.env\" must be an array of at most 64 variable names.");
      } else {
        for (const auto& name : env) {
          if (!name.is_string() || !valid_env_name(name.get<std::string>()))
            problems.push_back("\"handler.env\" must hold environment variable names.");
          else def.handler_env.push_back(name.get<std::string>());
        }
      }
    }
  }
  if (command->is_string()) {
    def.handler = {command->get<std::string>()};
  } else if (command->is_array() && !command->empty()) {
    for (const auto& a : *command) {
      if (!a.is_string()) {
        problems.push_back("\"handler\" command arguments must be strings.");
        return;
      }
      def.handler.push_back(a.get<std::string>());
    }
  } else {
    problems.push_back("\"handler\" must be a command: \"./handler.py\" or [program, args...].");
  }
}

void parse_webhook(const json& config, ChannelDef& def, std::vector<std::string>& problems) {
  std::string path = "/webhook";
  if (auto p = string_at(config, "path", problems)) path = *p;
  if (!valid_suffix(path))
    problems.push_back("\"path\" must be an absolute route suffix such as \"/webhook\".");
  def.routes = {{.method = "POST", .suffix = path, .surface = "webhook"}};
  const auto sig = config.find("signature");
  if (sig == config.end() || !sig->is_object() || !sig->contains("header")) {
    problems.push_back("A webhook channel needs \"signature\": {\"header\", \"algorithm\"?, "
                       "\"prefix\"?, \"encoding\"?}.");
    return;
  }
  if (auto header = string_at(*sig, "header", problems)) def.signature_header = *header;
  if (!valid_header_name(def.signature_header))
    problems.push_back("\"signature.header\" must be a header name.");
  if (auto alg = string_at(*sig, "algorithm", problems)) {
    if (*alg == "sha1") def.scheme.digest = Digest::sha1;
    else if (*alg != "sha256") problems.push_back("\"signature.algorithm\" must be \"sha256\" or \"sha1\".");
  }
  if (auto prefix = string_at(*sig, "prefix", problems)) def.scheme.prefix = prefix->substr(0, 64);
  if (auto enc = string_at(*sig, "encoding", problems)) {
    if (*enc == "base64") def.scheme.base64 = true;
    else if (*enc != "hex") problems.push_back("\"signature.encoding\" must be \"hex\" or \"base64\".");
  }
  if (config.contains("timestamp")) {
    const auto& ts = config["timestamp"];
    if (!ts.is_object() || !ts.contains("header")) {
      problems.push_back("\"timestamp\" must be {\"header\", \"toleranceSeconds\"?}.");
    } else {
      if (auto header = string_at(ts, "header", problems)) def.timestamp_header = *header;
      if (!valid_header_name(def.timestamp_header))
        problems.push_back("\"timestamp.header\" must be a header name.");
      def.scheme.timestamped = true;
      if (ts.contains("toleranceSeconds")) {
        const auto& t = ts["toleranceSeconds"];
        if (!t.is_number_integer() || t.get<long long>() < 1 || t.get<long long>() > 86'400)
          problems.push_back("\"timestamp.toleranceSeconds\" must be an integer from 1 to 86400.");
        else def.scheme.tolerance_s = t.get<long long>();
      }
    }
  }
  for (const char* key : {"eventHeader", "deliveryHeader"})
    if (auto h = string_at(config, key, problems)) {
      if (!valid_header_name(*h)) problems.push_back(std::string("\"") + key + "\" must be a header name.");
      (std::string_view(key) == "eventHeader" ? def.event_header : def.delivery_header) = *h;
    }
}

} // namespace

bool is_eve_channel(const std::string& name, const json& config) {
  return name == "eve" && config.is_object() && !config.contains("type");
}

std::string to_string(ChannelType type) {
  switch (type) {
  case ChannelType::slack: return "slack";
  case ChannelType::github: return "github";
  default: return "webhook";
  }
}

std::optional<ChannelDef> parse_channel(const std::string& name, const std::string& path,
                                        const json& config, std::vector<std::string>& problems) {
  const auto before = problems.size();
  ChannelDef def{.name = name, .path = path};
  if (!config.is_object()) {
    problems.push_back("A channel spec must be a JSON object.");
    return std::nullopt;
  }
  for (const auto& [key, _] : config.items())
    if (!k_keys.count(key)) problems.push_back("Unknown key \"" + key + "\".");
  const auto type = string_at(config, "type", problems);
  if (!type || (*type != "slack" && *type != "github" && *type != "webhook")) {
    problems.push_back("\"type\" must be \"slack\", \"github\" or \"webhook\".");
    return std::nullopt;
  }
  def.type = *type == "slack" ? ChannelType::slack
             : *type == "github" ? ChannelType::github
                                 : ChannelType::webhook;
  const auto secret = string_at(config, "secretEnv", problems);
  if (!secret || !valid_env_name(*secret))
    problems.push_back("\"secretEnv\" must name the environment variable holding the secret.");
  else if (secret->rfind("HEARTH_", 0) == 0) // HEARTH_* reaches every sandboxed command
    problems.push_back("\"secretEnv\" must not start with HEARTH_ (hearth passes HEARTH_* "
                       "variables to tools and handlers): rename the variable.");
  else def.secret_env = *secret;
  def.body_limit = def.type == ChannelType::slack    ? k_slack_body_limit
                   : def.type == ChannelType::github ? k_github_body_limit
                                                     : k_webhook_body_limit;
  if (config.contains("bodyLimit")) {
    const auto& limit = config["bodyLimit"];
    if (!limit.is_number_integer() || limit.get<long long>() < 1 ||
        limit.get<long long>() > static_cast<long long>(k_max_body_limit))
      problems.push_back("\"bodyLimit\" must be an integer from 1 to 67108864 (bytes).");
    else def.body_limit = limit.get<std::size_t>();
  }
  if (def.type == ChannelType::slack) {
    std::vector<std::string> surfaces = {"events", "interactions", "commands"};
    if (config.contains("surfaces")) {
      surfaces.clear();
      const auto& s = config["surfaces"];
      for (const auto& v : s.is_array() ? s : json::array()) {
        const auto n = v.is_string() ? v.get<std::string>() : std::string();
        if (n != "events" && n != "interactions" && n != "commands")
          problems.push_back("\"surfaces\" holds \"events\", \"interactions\" or \"commands\".");
        else surfaces.push_back(n);
      }
      if (surfaces.empty()) problems.push_back("\"surfaces\" must list at least one surface.");
    }
    for (const auto& s : surfaces) def.routes.push_back({.method = "POST", .suffix = "/" + s, .surface = s});
  } else if (def.type == ChannelType::github) {
    def.routes = {{.method = "POST", .suffix = "/webhook", .surface = "webhook"}};
  } else {
    parse_webhook(config, def, problems);
  }
  if (config.contains("dispatch")) parse_dispatch(config["dispatch"], def, problems);
  if (config.contains("handler")) parse_handler(config["handler"], def, problems);
  if (def.dispatch && !def.handler.empty())
    problems.push_back("Give \"dispatch\" or \"handler\", not both.");
  for (const auto& env : def.handler_env)
    if (env == def.secret_env) // the signing secret stays with the server
      problems.push_back("\"handler.env\" must not pass the signing secret \"" + env + "\".");
  if (problems.size() != before) return std::nullopt;
  return def;
}

} // namespace hearth::triggers

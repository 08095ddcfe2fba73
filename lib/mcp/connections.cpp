// The connection pool; see connections.hpp.
#include "mcp/connections.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "discovery/parse.hpp"
#include "mcp/oauth.hpp"
#include "mcp/openapi.hpp"
#include "providers/http.hpp"
#include "mcp/transports.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <future>
#include <cstdlib>

namespace hearth::mcp {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

/// Nodes an OpenAPI spec in YAML may expand to (aliases included).
constexpr std::size_t k_max_spec_nodes = 2'000'000;
constexpr auto k_first_backoff = std::chrono::milliseconds(250);
constexpr auto k_max_backoff = std::chrono::milliseconds(30'000);

std::string key_of(const std::string& agent, const std::string& name) { return agent + "\n" + name; }

const std::string& id_of(const ConnectionConfig& c) { return c.agent_id.empty() ? c.agent : c.agent_id; }

constexpr std::size_t k_max_found_sessions = 4096;
constexpr std::size_t k_max_found_per_session = 256;

std::vector<std::string> strings(const std::string& connection, const json& entry,
                                 const char* key) {
  std::vector<std::string> out;
  if (!entry.contains(key) || entry[key].is_null()) return out;
  if (!entry[key].is_array())
    throw errors::mcp_config_invalid(connection, std::string("\"") + key + "\" must be an array of strings.");
  for (const auto& v : entry[key]) {
    if (!v.is_string())
      throw errors::mcp_config_invalid(connection, std::string("\"") + key + "\" must be an array of strings.");
    out.push_back(v.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> string_map(const std::string& connection, const json& entry,
                                              const char* key) {
  std::map<std::string, std::string> out;
  if (!entry.contains(key) || entry[key].is_null()) return out;
  if (!entry[key].is_object())
    throw errors::mcp_config_invalid(connection, std::string("\"") + key + "\" must be an object of strings.");
  for (const auto& [k, v] : entry[key].items()) {
    if (!v.is_string())
      throw errors::mcp_config_invalid(connection, std::string("\"") + key + "\" must be an object of strings.");
    out[k] = v.get<std::string>();
  }
  return out;
}

std::chrono::milliseconds backoff(int failures) {
  auto delay = k_first_backoff;
  for (int i = 1; i < failures && delay < k_max_backoff; ++i) delay *= 2;
  return std::min<std::chrono::milliseconds>(delay, k_max_backoff);
}

std::string file_uri(const std::filesystem::path& path) {
  std::string uri = "file://";
  for (const unsigned char c : path.string()) {
    if (std::isalnum(c) || std::string_view("/-._~").find(static_cast<char>(c)) != std::string_view::npos) {
      uri += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789ABCDEF";
      uri += '%';
      uri += hex[c >> 4];
      uri += hex[c & 15];
    }
  }
  return uri;
}

} // namespace

std::string agent_key(const std::string& name, const std::filesystem::path& directory) {
  return directory.empty() ? name : directory.lexically_normal().string();
}

ConnectionConfig parse_connection(const std::string& agent, const json& entry,
                                  const std::filesystem::path& project_root) {
  ConnectionConfig c{.agent = agent};
  if (!entry.is_object()) throw errors::mcp_config_invalid("?", "a connection must be an object.");
  c.name = entry.value("name", std::string());
  if (entry.value("project", json(false)) == true) c.tool_prefix = "mcp";
  c.description = entry.contains("description") && entry["description"].is_string()
                      ? entry["description"].get<std::string>()
                      : std::string();
  const auto type = entry.value("type", json("mcp"));
  if (type != "mcp" && type != "openapi")
    throw errors::mcp_config_invalid(c.name, "\"type\" " + type.dump() +
                                                 " is not supported; use \"mcp\" or \"openapi\".");
  if (type == "openapi") {
    c.transport = "openapi";
    if (!entry.contains("spec") || !entry["spec"].is_string())
      throw errors::mcp_config_invalid(c.name, "\"spec\" must be a file path or an http(s) URL.");
    c.spec = entry["spec"].get<std::string>();
    if (c.spec.rfind("http://", 0) != 0 && c.spec.rfind("https://", 0) != 0) {
      const std::filesystem::path spec = c.spec;
      c.spec = (spec.is_absolute() ? spec : project_root / spec).lexically_normal().string();
    }
    if (entry.contains("baseUrl") && entry["baseUrl"].is_string()) c.base_url = entry["baseUrl"].get<std::string>();
    c.headers = string_map(c.name, entry, "headers");
    if (entry.contains("operations") && entry["operations"].is_object()) {
      c.allow = strings(c.name, entry["operations"], "allow");
      c.block = strings(c.name, entry["operations"], "block");
    }
  } else if (entry.contains("command")) {
    c.transport = "stdio";
    if (!entry["command"].is_string())
      throw errors::mcp_config_invalid(c.name, "\"command\" must be a string.");
    c.argv.push_back(entry["command"].get<std::string>());
    for (auto& a : strings(c.name, entry, "args")) c.argv.push_back(std::move(a));
    c.env = string_map(c.name, entry, "env");
    std::filesystem::path cwd = entry.value("cwd", std::string());
    c.cwd = cwd.empty() ? project_root : (cwd.is_absolute() ? cwd : project_root / cwd);
    c.cwd = c.cwd.lexically_normal();
    // A program written as a path is relative to cwd (as for tools).
    if (c.argv.front().find('/') != std::string::npos &&
        !std::filesystem::path(c.argv.front()).is_absolute())
      c.argv.front() = (c.cwd / c.argv.front()).lexically_normal().string();
  } else if (entry.contains("url") && entry["url"].is_string()) {
    c.transport = "http";
    c.url = entry["url"].get<std::string>();
    c.headers = string_map(c.name, entry, "headers");
  } else {
    throw errors::mcp_config_invalid(c.name, "it needs \"command\" (stdio) or \"url\" (HTTP).");
  }
  if (entry.contains("auth") && entry["auth"].is_object()) {
    const auto& auth = entry["auth"];
    if (auth.contains("tokenEnv")) {
      if (!auth["tokenEnv"].is_string())
        throw errors::mcp_config_invalid(c.name, "\"auth.tokenEnv\" must be a string.");
      c.token_env = auth["tokenEnv"].get<std::string>();
    }
    if (auth.contains("oauth")) {
      const auto& o = auth["oauth"];
      if (!o.is_boolean() && !o.is_object())
        throw errors::mcp_config_invalid(c.name, "\"auth.oauth\" must be true or {clientId, clientSecret, redirectUri}.");
      c.oauth = o.is_object() || o == true;
      if (o.is_object()) {
        c.oauth_client_id = o.value("clientId", json("")).is_string() ? o.value("clientId", "") : "";
        c.oauth_client_secret = o.value("clientSecret", json("")).is_string() ? o.value("clientSecret", "") : "";
        c.oauth_redirect_uri = o.value("redirectUri", json("")).is_string() ? o.value("redirectUri", "") : "";
        c.oauth_client_metadata_url =
            o.value("clientMetadataUrl", json("")).is_string() ? o.value("clientMetadataUrl", "") : "";
        if (!c.oauth_client_metadata_url.empty() && c.oauth_client_metadata_url.rfind("https://", 0) != 0)
          throw errors::mcp_config_invalid(c.name, "\"auth.oauth.clientMetadataUrl\" must be an https URL.");
        c.oauth_private_key_env = o.value("privateKeyEnv", json("")).is_string() ? o.value("privateKeyEnv", "") : "";
        if (o.contains("signingAlgorithm")) {
          if (o["signingAlgorithm"] != "ES256" && o["signingAlgorithm"] != "RS256")
            throw errors::mcp_config_invalid(c.name, "\"auth.oauth.signingAlgorithm\" must be \"ES256\" or \"RS256\".");
          c.oauth_signing_alg = o["signingAlgorithm"].get<std::string>();
        }
        if (o.contains("grant")) {
          if (o["grant"] != "authorization_code" && o["grant"] != "client_credentials" &&
              o["grant"] != "cross_app")
            throw errors::mcp_config_invalid(c.name, "\"auth.oauth.grant\" must be \"authorization_code\", "
                                                     "\"client_credentials\" or \"cross_app\".");
          c.oauth_grant = o["grant"].get<std::string>();
        }
        if (c.oauth_grant == "cross_app") { // SEP-990: the enterprise IdP's ID token, exchanged
          const auto idp = o.value("idp", json::object());
          const auto field = [&](const char* key) {
            return idp.is_object() && idp.contains(key) && idp[key].is_string() ? idp[key].get<std::string>()
                                                                                : std::string();
          };
          c.oauth_idp_token_endpoint = field("tokenEndpoint");
          c.oauth_idp_client_id = field("clientId");
          c.oauth_idp_id_token_env = field("idTokenEnv");
          if (c.oauth_idp_token_endpoint.empty() || c.oauth_idp_id_token_env.empty())
            throw errors::mcp_config_invalid(c.name, "the cross_app grant needs auth.oauth.idp {tokenEndpoint, "
                                                     "clientId, idTokenEnv}.");
        }
      }
    }
  }
  if (c.transport != "openapi" && entry.contains("tools") && entry["tools"].is_object()) {
    c.allow = strings(c.name, entry["tools"], "allow");
    c.block = strings(c.name, entry["tools"], "block");
  }
  if (entry.contains("approval")) {
    const auto& a = entry["approval"];
    if (!a.is_string() || (a != "never" && a != "once" && a != "always"))
      throw errors::mcp_config_invalid(c.name, "\"approval\" must be \"never\", \"once\" or \"always\".");
    c.approval = a.get<std::string>();
  }
  if (entry.contains("timeoutMs")) {
    const auto& t = entry["timeoutMs"];
    if (!t.is_number_integer() || t.get<long long>() < 1 || t.get<long long>() > 3'600'000)
      throw errors::mcp_config_invalid(c.name, "\"timeoutMs\" must be an integer from 1 to 3600000.");
    c.timeout_ms = t.get<int>();
  }
  c.eager = entry.value("eager", json(false)) == true;
  if (entry.contains("sampling")) {
    const auto& s = entry["sampling"];
    if (s.is_boolean()) {
      c.sampling = s.get<bool>();
    } else if (s.is_object() && s.contains("model") && s["model"].is_string() &&
               s["model"].get_ref<const std::string&>().find('/') != std::string::npos) {
      c.sampling = true;
      c.sampling_model = s["model"].get<std::string>();
    } else {
      throw errors::mcp_config_invalid(c.name, "\"sampling\" must be true, false or {\"model\": \"provider/model\"}.");
    }
  }
  if (entry.contains("elicitation")) {
    const auto& el = entry["elicitation"];
    if (el != "decline" && el != "defaults" && el != "ask")
      throw errors::mcp_config_invalid(c.name,
                                       "\"elicitation\" must be \"decline\", \"defaults\" or \"ask\".");
    c.elicitation_defaults = el == "defaults";
    c.elicitation_ask = el == "ask";
  }
  return c;
}

/// One long-lived thread that starts every stdio server of the pool (StdioSpec::spawn_on).
class Pool::Spawner {
public:
  Spawner() : m_thread([this] { loop(); }) {}
  ~Spawner() {
    {
      std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_cv.notify_all();
    m_thread.join();
  }
  std::unique_ptr<process::Process> run(const std::function<std::unique_ptr<process::Process>()>& spawn) {
    std::packaged_task<std::unique_ptr<process::Process>()> task(spawn);
    auto result = task.get_future();
    {
      std::lock_guard lock(m_mutex);
      if (m_stopping) throw errors::mcp_closed("?", "start", "the runtime is shutting down");
      m_tasks.push_back(std::move(task));
    }
    m_cv.notify_all();
    return result.get();
  }

private:
  void loop() {
    for (;;) {
      std::packaged_task<std::unique_ptr<process::Process>()> task;
      {
        std::unique_lock lock(m_mutex);
        m_cv.wait(lock, [&] { return m_stopping || !m_tasks.empty(); });
        if (m_tasks.empty()) return;
        task = std::move(m_tasks.front());
        m_tasks.pop_front();
      }
      task();
    }
  }
  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<std::packaged_task<std::unique_ptr<process::Process>()>> m_tasks;
  bool m_stopping = false;
  std::thread m_thread;
};

struct Pool::Entry {
  ConnectionConfig config{};
  sandbox::Policy policy{};
  std::timed_mutex start_mutex{};         // one start at a time (waited for cancellably)
  // guarded by Pool::m_mutex:
  std::shared_ptr<Client> client{};
  std::vector<ToolInfo> tools{};          // after allow/block
  std::string state = "idle";
  std::string last_error{};
  int failures = 0;                       // consecutive failed starts
  int starts = 0;
  Clock::time_point retry_at{};
  bool listed = false;                    // `tools` holds a successful list (cached_tools)
  std::vector<openapi::Operation> operations{}; // openapi
  std::string base_url{};                       // openapi
  /// OAuth tokens held for the connection, shared by its restarts (oauth::State locks itself).
  std::shared_ptr<oauth::State> oauth_state = std::make_shared<oauth::State>();
};

Pool::Pool(PoolOptions options)
    : m_options(std::move(options)), m_spawner(std::make_shared<Spawner>()) {}

Pool::~Pool() { shutdown(); }

void Pool::add(ConnectionConfig config, sandbox::Policy policy) {
  std::lock_guard lock(m_mutex);
  auto& slot = m_entries[key(config)];
  if (!slot) slot = std::make_shared<Entry>();
  slot->config = std::move(config);
  slot->policy = std::move(policy);
}

std::vector<const ConnectionConfig*> Pool::of_agent(const std::string& agent) const {
  std::lock_guard lock(m_mutex);
  std::vector<const ConnectionConfig*> out;
  for (const auto& [key, e] : m_entries)
    if (id_of(e->config) == agent) out.push_back(&e->config);
  return out;
}

std::string Pool::key(const ConnectionConfig& config) { return key_of(id_of(config), config.name); }

std::string Pool::agent_id(const std::string& agent) const {
  std::lock_guard lock(m_mutex);
  for (const auto& [k, e] : m_entries)
    if (id_of(e->config) == agent) return agent;
  for (const auto& [k, e] : m_entries)
    if (e->config.agent == agent) return id_of(e->config);
  return agent;
}

Pool::Entry& Pool::entry(const std::string& agent, const std::string& name) const {
  const auto it = m_entries.find(key_of(agent, name));
  if (it == m_entries.end()) {
    std::vector<std::string> names;
    for (const auto& [key, e] : m_entries)
      if (id_of(e->config) == agent) names.push_back(e->config.name);
    std::string shown = agent;
    for (const auto& [key, e] : m_entries)
      if (id_of(e->config) == agent) shown = e->config.agent;
    throw errors::mcp_connection_not_found(shown, name, names);
  }
  return *it->second;
}

const ConnectionConfig& Pool::config(const std::string& agent, const std::string& name) const {
  std::lock_guard lock(m_mutex);
  return entry(agent, name).config;
}

std::unique_ptr<Client> Pool::connect(const Entry& e, std::stop_token cancel) {
  const auto& c = e.config;
  const auto agent = c.agent, name = c.name;
  auto log = m_options.log;
  ClientOptions options{.name = c.name,
                        .limits = m_options.limits,
                        // a start waits as long as a call may (at least 5 s: servers start
                        // slowly on a busy machine), at most 30 s
                        .init_timeout = std::chrono::milliseconds(std::clamp(c.timeout_ms, 5'000, 30'000)),
                        .request_timeout = std::chrono::milliseconds(c.timeout_ms),
                        .root_uri = file_uri(c.transport == "stdio" ? c.cwd : m_options.project_root),
                        .elicitation_defaults = c.elicitation_defaults,
                        .elicitation = c.elicitation_defaults || c.elicitation_ask,
                        .sample = {},
                        .log = [log, agent, name](std::string_view level, std::string_view text) {
                          if (log) log(agent, name, level, text);
                        }};
  if (c.sampling) {
    std::lock_guard lock(m_mutex);
    if (m_sampler)
      options.sample = [sampler = m_sampler, config = c](const json& params, std::stop_token stop) {
        return sampler(config, params, std::move(stop));
      };
  }
  std::unique_ptr<Transport> transport;
  if (c.transport == "stdio") {
    StdioSpec spec{.connection = c.name, .argv = c.argv, .cwd = c.cwd, .policy = e.policy,
                   .max_line_bytes = m_options.limits.max_message_bytes,
                   .on_stderr = [log, agent, name](std::string_view line) {
                     if (log) log(agent, name, "info", line);
                   },
                   .log = [log, agent, name](std::string_view level, std::string_view text) {
                     if (log) log(agent, name, level, text);
                   }};
    for (const auto& [k, v] : c.env) spec.env.push_back(k + "=" + v);
    spec.spawn_on = [spawner = m_spawner](const std::function<std::unique_ptr<process::Process>()>& spawn) {
      return spawner->run(spawn);
    };
    // A server lives for the runtime's life: no CPU-time limit; V8 and friends reserve much
    // address space, so the memory limit is at least 4 GiB of it.
    spec.policy.settings.limits.cpu_seconds = 0;
    if (spec.policy.settings.limits.memory_mb != 0)
      spec.policy.settings.limits.memory_mb = std::max<long long>(spec.policy.settings.limits.memory_mb, 4096);
    transport = make_stdio_transport(std::move(spec));
  } else {
    const auto token_env = c.token_env;
    HttpSpec spec{.connection = c.name, .url = c.url, .headers = c.headers,
                  .max_message_bytes = m_options.limits.max_message_bytes,
                  .log = options.log};
    if (!token_env.empty()) spec.token = [this, config = c] { return token_of(config); };
    if (c.oauth) {
      oauth::Settings settings{.connection = c.name, .mcp_url = c.url, .client_id = c.oauth_client_id,
                               .client_secret = c.oauth_client_secret, .log = options.log};
      if (!c.oauth_redirect_uri.empty()) {
        settings.redirect_uri = c.oauth_redirect_uri;
        settings.redirect_configured = true;
      }
      settings.grant = c.oauth_grant;
      settings.description = c.description;
      settings.client_metadata_url = c.oauth_client_metadata_url;
      settings.signing_alg = c.oauth_signing_alg;
      if (!c.oauth_private_key_env.empty()) { // read at start, kept in memory, never logged
        const auto pem = m_options.env ? m_options.env(c.oauth_private_key_env) : [&]() -> std::optional<std::string> {
          const char* v = std::getenv(c.oauth_private_key_env.c_str());
          return v ? std::optional<std::string>(v) : std::nullopt;
        }();
        if (!pem || pem->empty())
          throw errors::mcp_config_invalid(c.name, "auth.oauth.privateKeyEnv names " + c.oauth_private_key_env +
                                                       ", which is not set.");
        settings.private_key_pem = *pem;
      }
      if (c.oauth_grant == "cross_app") {
        const auto id_token = m_options.env ? m_options.env(c.oauth_idp_id_token_env) : [&]() -> std::optional<std::string> {
          const char* v = std::getenv(c.oauth_idp_id_token_env.c_str());
          return v ? std::optional<std::string>(v) : std::nullopt;
        }();
        if (!id_token || id_token->empty())
          throw errors::mcp_config_invalid(c.name, "auth.oauth.idp.idTokenEnv names " + c.oauth_idp_id_token_env +
                                                       ", which is not set.");
        settings.idp_id_token = *id_token;
        settings.idp_token_endpoint = c.oauth_idp_token_endpoint;
        settings.idp_client_id = c.oauth_idp_client_id;
      }
      settings.state = e.oauth_state;
      settings.shutdown = m_stop.get_token(); // a pending consent ends with the pool
      // Tokens outlive the process in the store (sealed by the runtime's credentials hooks),
      // keyed by agent, connection and URL: another URL never gets this one's token.
      const auto secret_key = (c.agent_id.empty() ? c.agent : c.agent_id) + "\n" + c.name + "\n" + c.url;
      const auto& creds = m_options.credentials;
      if (creds.load) settings.tokens.load = [creds, secret_key] { return creds.load(secret_key); };
      if (creds.save) settings.tokens.save = [creds, secret_key](const std::string& text) { creds.save(secret_key, text); };
      if (creds.forget) settings.tokens.forget = [creds, secret_key] { creds.forget(secret_key); };
      spec.oauth = [settings](const std::string& challenge, const std::string& refused) {
        return oauth::authorize(settings, challenge, refused);
      };
      spec.oauth_current = [settings] { return oauth::current_token(settings); };
    }
    // Streamable HTTP first, unless the URL is a legacy /sse endpoint; a server that refuses the
    // initialize POST (400/404/405) gets the legacy HTTP+SSE transport (spec: backwards compatibility).
    const bool legacy = prefers_legacy_sse(c.url);
    auto first = std::make_unique<Client>(
        legacy ? make_legacy_sse_transport(spec) : make_http_transport(spec), options);
    try {
      first->initialize(cancel);
      return first;
    } catch (const Error& failure) {
      const auto& m = failure.info().message;
      const bool refused = m.find("HTTP 400") != std::string::npos ||
                           m.find("HTTP 404") != std::string::npos ||
                           m.find("HTTP 405") != std::string::npos;
      if (legacy || !refused) throw;
    }
    first.reset();
    auto second = std::make_unique<Client>(make_legacy_sse_transport(std::move(spec)), std::move(options));
    second->initialize(cancel);
    return second;
  }
  auto client = std::make_unique<Client>(std::move(transport), std::move(options));
  client->initialize(cancel);
  return client;
}

std::string Pool::token_of(const ConnectionConfig& c) const {
  if (c.token_env.empty()) return {};
  std::optional<std::string> value;
  if (m_options.env) value = m_options.env(c.token_env);
  else if (const char* v = std::getenv(c.token_env.c_str())) value = v;
  if (!value || value->empty())
    throw errors::mcp_config_invalid(c.name, "auth.tokenEnv names " + c.token_env + ", which is not set.");
  return *value;
}

void Pool::load_openapi(Entry& e) {
  const auto& name = e.config.name;
  {
    std::lock_guard lock(m_mutex);
    if (e.state == "ready") return;
    const auto now = Clock::now();
    if (e.failures > 0 && now < e.retry_at)
      throw errors::mcp_backing_off(
          name, std::chrono::duration_cast<std::chrono::milliseconds>(e.retry_at - now).count(),
          e.last_error);
  }
  std::lock_guard start(e.start_mutex);
  {
    std::lock_guard lock(m_mutex);
    if (e.state == "ready") return;
    e.state = "starting";
  }
  try {
    std::string text;
    const auto& spec = e.config.spec;
    if (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0) {
      providers::BaseUrl base;
      try {
        base = providers::split_base_url(name, spec);
      } catch (const Error&) {
        throw errors::mcp_config_invalid(name, "\"spec\" is not an http(s) URL.");
      }
      httplib::Client http(base.scheme_host_port);
      http.set_connection_timeout(std::chrono::seconds(10));
      http.set_read_timeout(std::chrono::seconds(30));
      httplib::Headers headers;
      for (const auto& [k, v] : e.config.headers) headers.emplace(k, v);
      bool too_big = false;
      const auto res = http.Get(base.path_prefix.empty() ? "/" : base.path_prefix, headers,
                                [&](const char* data, std::size_t n) {
                                  if (text.size() + n > m_options.limits.max_message_bytes) {
                                    too_big = true;
                                    return false;
                                  }
                                  text.append(data, n);
                                  return true;
                                });
      if (too_big) throw errors::mcp_config_invalid(name, "the spec is larger than the message limit.");
      if (!res || res->status != 200)
        throw errors::mcp_http_error(name, res ? res->status : 0,
                                     res ? "fetching the spec" : httplib::to_string(res.error()));
    } else {
      std::error_code ec;
      const auto size = std::filesystem::file_size(spec, ec);
      if (ec) throw errors::mcp_config_invalid(name, "cannot read the spec " + spec + ": " + ec.message());
      if (size > m_options.limits.max_message_bytes)
        throw errors::mcp_config_invalid(name, "the spec is larger than the message limit.");
      text = fs::read_file(spec);
    }
    json document = parse_json_or_discarded(text);
    if (document.is_discarded()) { // YAML (OpenAPI specs are often written in it)
      try {
        document = discovery::parse_yaml_document(text, k_max_spec_nodes);
      } catch (const std::exception& ex) {
        throw errors::mcp_config_invalid(name, std::string("the spec is neither JSON nor YAML: ") + ex.what());
      }
    }
    auto ops = openapi::operations(name, document, e.config.allow, e.config.block);
    const auto base_url = openapi::base_url_of(document, e.config.base_url);
    if (base_url.empty())
      throw errors::mcp_config_invalid(name, "no \"baseUrl\" and no servers[0].url in the spec.");
    // A spec fetched over the network may not send the token to a host of its choosing: without
    // an explicit baseUrl, servers[0].url must be on the spec's own origin.
    if (e.config.base_url.empty() && (spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0)) {
      std::string spec_origin, api_origin;
      try {
        spec_origin = providers::split_base_url(name, spec).scheme_host_port;
        api_origin = providers::split_base_url(name, base_url).scheme_host_port;
      } catch (const Error&) {
      }
      if (spec_origin.empty() || spec_origin != api_origin)
        throw errors::mcp_config_invalid(
            name, "the spec's servers[0].url is on another origin than the spec; set \"baseUrl\" to call it.");
    }
    std::vector<ToolInfo> tools;
    for (const auto& op : ops)
      tools.push_back({.name = op.name, .description = op.description, .input_schema = op.input_schema});
    std::lock_guard lock(m_mutex);
    e.operations = std::move(ops);
    e.base_url = base_url;
    e.tools = std::move(tools);
    e.listed = true;
    e.state = "ready";
    e.failures = 0;
    ++e.starts;
  } catch (const Error& err) {
    std::lock_guard lock(m_mutex);
    ++e.failures;
    e.retry_at = Clock::now() + backoff(e.failures);
    e.last_error = err.info().message;
    e.state = "failed";
    throw;
  } catch (const std::exception& ex) { // never a json::type_error out of here (eager thread)
    const auto err = errors::mcp_config_invalid(name, std::string("the spec is malformed: ") + ex.what());
    std::lock_guard lock(m_mutex);
    ++e.failures;
    e.retry_at = Clock::now() + backoff(e.failures);
    e.last_error = err.info().message;
    e.state = "failed";
    throw err;
  }
}

std::shared_ptr<Client> Pool::client(const std::string& agent, const std::string& name,
                                     std::stop_token cancel) {
  Entry* e = nullptr;
  {
    std::lock_guard lock(m_mutex);
    if (m_shutdown) throw errors::mcp_closed(name, "start", "the runtime is shutting down");
    e = &entry(agent, name);
    if (e->config.transport == "openapi")
      throw errors::mcp_config_invalid(name, "an OpenAPI connection has no MCP session.");
    if (e->client && e->client->alive()) return e->client;
  }
  // Another caller's start (maybe an OAuth sign-in waiting for a person): waited for with this
  // caller's own cancellation and the pool's shutdown, never blindly.
  std::unique_lock start(e->start_mutex, std::defer_lock);
  while (!start.try_lock_for(std::chrono::milliseconds(50))) {
    if (cancel.stop_requested()) throw errors::turn_cancelled();
    if (m_stop.get_token().stop_requested())
      throw errors::mcp_closed(name, "start", "the runtime is shutting down");
  }
  {
    std::lock_guard lock(m_mutex);
    if (e->client && e->client->alive()) return e->client; // another caller started it
    if (e->client) { // it died: restart now (only failed starts back off)
      e->last_error = e->client->close_reason();
      e->client.reset();
    }
    const auto now = Clock::now();
    if (e->failures > 0 && now < e->retry_at)
      throw errors::mcp_backing_off(
          name, std::chrono::duration_cast<std::chrono::milliseconds>(e->retry_at - now).count(),
          e->last_error);
    e->state = "starting";
  }
  // The start gives up when the pool shuts down or the caller (a turn) is cancelled.
  std::stop_source stop;
  const std::stop_callback on_shutdown(m_stop.get_token(), [&stop] { stop.request_stop(); });
  const std::stop_callback on_cancel(cancel, [&stop] { stop.request_stop(); });
  try {
    std::shared_ptr<Client> session = connect(*e, stop.get_token());
    std::vector<ToolInfo> listed;
    if (session->server_capabilities().contains("tools")) listed = session->list_tools();
    std::vector<ToolInfo> kept;
    for (auto& t : listed)
      if (tool_allowed(t.name, e->config.allow, e->config.block)) kept.push_back(std::move(t));
    std::lock_guard lock(m_mutex);
    if (m_shutdown) {
      session->close();
      throw errors::mcp_closed(name, "start", "the runtime is shutting down");
    }
    e->client = session;
    e->tools = std::move(kept);
    e->listed = true;
    e->state = "ready";
    e->failures = 0;
    ++e->starts;
    return session;
  } catch (const Error& err) {
    std::lock_guard lock(m_mutex);
    if (cancel.stop_requested() && !m_shutdown) { // the caller gave up: not the server's failure
      e->state = e->starts > 0 ? "stopped" : "idle";
      throw errors::turn_cancelled();
    }
    ++e->failures;
    e->retry_at = Clock::now() + backoff(e->failures);
    e->last_error = err.info().message;
    e->state = "failed";
    throw;
  }
}

std::vector<ToolInfo> Pool::tools(const std::string& agent, const std::string& name,
                                  std::stop_token cancel) {
  Entry* e = nullptr;
  {
    std::lock_guard lock(m_mutex);
    e = &entry(agent, name);
  }
  if (e->config.transport == "openapi") load_openapi(*e);
  else client(agent, name, std::move(cancel));
  std::lock_guard lock(m_mutex);
  return entry(agent, name).tools;
}

std::optional<std::vector<ToolInfo>> Pool::cached_tools(const std::string& agent,
                                                        const std::string& name) const {
  std::lock_guard lock(m_mutex);
  const auto& e = entry(agent, name);
  if (!e.listed) return std::nullopt;
  return e.tools;
}

void Pool::note_found(const std::string& session, const std::vector<std::string>& names) {
  if (session.empty() || names.empty()) return;
  std::lock_guard lock(m_mutex);
  auto it = m_found.find(session);
  if (it == m_found.end()) {
    while (m_found_order.size() >= k_max_found_sessions) {
      m_found.erase(m_found_order.front());
      m_found_order.pop_front();
    }
    m_found_order.push_back(session);
    it = m_found.emplace(session, std::vector<std::string>{}).first;
  }
  for (const auto& n : names) {
    if (it->second.size() >= k_max_found_per_session) break;
    if (std::find(it->second.begin(), it->second.end(), n) == it->second.end()) it->second.push_back(n);
  }
}

std::vector<std::string> Pool::found(const std::string& session) const {
  std::lock_guard lock(m_mutex);
  const auto it = m_found.find(session);
  return it == m_found.end() ? std::vector<std::string>{} : it->second;
}

json Pool::call(const std::string& agent, const std::string& name, const std::string& tool,
                const json& arguments, std::stop_token cancel, ProgressHandler progress,
                Elicitor elicit) {
  Entry* openapi_entry = nullptr;
  {
    std::lock_guard lock(m_mutex);
    auto& e = entry(agent, name);
    if (e.config.transport == "openapi") openapi_entry = &e;
  }
  if (openapi_entry) {
    load_openapi(*openapi_entry);
    openapi::Operation op;
    std::string base_url;
    {
      std::lock_guard lock(m_mutex);
      const auto& ops = openapi_entry->operations;
      const auto it = std::find_if(ops.begin(), ops.end(),
                                   [&](const openapi::Operation& o) { return o.name == tool; });
      if (it == ops.end()) throw errors::mcp_tool_not_found(name, tool);
      op = *it;
      base_url = openapi_entry->base_url;
    }
    const auto& c = openapi_entry->config;
    return openapi::call(name, op, base_url, c.headers, token_of(c), arguments,
                         std::chrono::milliseconds(c.timeout_ms), std::move(cancel));
  }
  const auto session = client(agent, name, cancel);
  int timeout_ms = k_default_call_timeout_ms;
  {
    std::lock_guard lock(m_mutex);
    auto& e = entry(agent, name);
    timeout_ms = e.config.timeout_ms;
    if (!e.config.elicitation_ask) elicit = nullptr;
    if (std::none_of(e.tools.begin(), e.tools.end(),
                     [&](const ToolInfo& t) { return t.name == tool; }))
      throw errors::mcp_tool_not_found(name, tool);
  }
  return session->call_tool(tool, arguments, std::chrono::milliseconds(timeout_ms),
                            std::move(cancel), std::move(progress), std::move(elicit));
}

void Pool::set_callback_base(std::string base) {
  std::lock_guard lock(m_mutex);
  m_callback_base = std::move(base);
}

std::string Pool::callback_base() const {
  std::lock_guard lock(m_mutex);
  return m_callback_base;
}

json Pool::state(const std::string& agent) const {
  std::lock_guard lock(m_mutex);
  json out = json::array();
  const auto now = Clock::now();
  for (const auto& [key, e] : m_entries) {
    if (!agent.empty() && e->config.agent != agent && id_of(e->config) != agent) continue;
    const auto& c = e->config;
    json j = {{"agent", c.agent}, {"agentId", id_of(c)}, {"name", c.name}, {"transport", c.transport},
              {"description", c.description}, {"eager", c.eager},
              {"restarts", std::max(0, e->starts - 1)}};
    std::string now_state = e->state;
    if (e->client && !e->client->alive()) {
      now_state = "stopped";
      j["lastError"] = e->client->close_reason();
    } else if (!e->last_error.empty()) {
      j["lastError"] = e->last_error;
    }
    j["state"] = now_state;
    if (now_state == "failed" && e->retry_at > now)
      j["retryInMs"] = std::chrono::duration_cast<std::chrono::milliseconds>(e->retry_at - now).count();
    if (c.transport == "openapi" && now_state == "ready") {
      j["tools"] = e->tools.size();
      j["baseUrl"] = providers::redact_url(e->base_url);
    }
    if (e->client && now_state == "ready") {
      j["tools"] = e->tools.size();
      j["protocolVersion"] = e->client->protocol_version();
      j["server"] = e->client->server_info();
      j.update(e->client->describe());
    }
    j["transport"] = c.transport;
    out.push_back(std::move(j));
  }
  return out;
}

void Pool::set_sampler(Sampler sampler) {
  std::lock_guard lock(m_mutex);
  m_sampler = std::move(sampler);
}

void Pool::start_eager() {
  std::vector<std::pair<std::string, std::string>> eager;
  {
    std::lock_guard lock(m_mutex);
    if (m_shutdown || m_eager.joinable()) return;
    for (const auto& [key, e] : m_entries)
      if (e->config.eager) eager.emplace_back(id_of(e->config), e->config.name);
  }
  if (eager.empty()) return;
  m_eager = std::thread([this, eager] {
    for (const auto& [agent, name] : eager) {
      try {
        tools(agent, name);
      } catch (const Error& e) {
        if (m_options.log) m_options.log(agent, name, "error", e.info().message);
      } catch (const std::exception& e) { // the eager thread must never end the process
        if (m_options.log) m_options.log(agent, name, "error", e.what());
      } catch (...) {
      }
    }
  });
}

void Pool::shutdown() noexcept {
  std::vector<std::shared_ptr<Client>> clients;
  {
    std::lock_guard lock(m_mutex);
    m_shutdown = true;
    m_stop.request_stop(); // an eager start waiting on initialize gives up now, not in 30 s
    for (auto& [key, e] : m_entries)
      if (e->client) clients.push_back(std::move(e->client));
  }
  for (auto& c : clients) c->close();
  if (m_eager.joinable()) m_eager.join();
  // A start in progress when shutdown began: stop what it left behind.
  std::lock_guard lock(m_mutex);
  for (auto& [key, e] : m_entries)
    if (e->client) e->client->close();
}

} // namespace hearth::mcp

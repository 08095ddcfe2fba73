// Connection tools; see connection_tools.hpp.
#include "mcp/connection_tools.hpp"

#include "core/errors.hpp"
#include "core/json.hpp"
#include "core/json_schema.hpp"
#include "core/text.hpp"
#include "mcp/oauth.hpp"
#include "runtime/agent_tools.hpp"
#include "store/store.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <cstdlib>
#include <exception>
#include <mutex>

namespace hearth::mcp {
namespace {
using nlohmann::json;
using runtime::Tool;
using runtime::ToolContext;
using runtime::ToolOutcome;

constexpr std::size_t k_max_blob_in_details = 64 * 1024;
constexpr std::size_t k_max_text_in_details = 64 * 1024;
constexpr std::size_t k_max_structured_in_details = 256 * 1024;

std::uint32_t fnv1a(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (const unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// What one call's details.mcp may take in the event stream, serialized.
constexpr std::size_t k_max_details_bytes = 512u << 10;

/// `result` with base64 blobs (image/audio data, resource blobs) over the cap replaced by a note,
/// text items cut at 64 KiB and a structuredContent over 256 KiB replaced by a note: what the
/// event stream stores stays bounded whatever the server sends.
json bounded(json result) {
  if (result.contains("structuredContent")) {
    const auto size = dump_json(result["structuredContent"]).size();
    if (size > k_max_structured_in_details)
      result["structuredContent"] = "[" + std::to_string(size) + " bytes of structuredContent omitted]";
  }
  if (!result.contains("content") || !result["content"].is_array()) return result;
  for (auto& item : result["content"])
    if (item.is_object() && item.contains("text") && item["text"].is_string() &&
        item["text"].get_ref<const std::string&>().size() > k_max_text_in_details) {
      auto cut = item["text"].get<std::string>().substr(0, k_max_text_in_details);
      item["text"] = text::to_utf8(cut) + "\n[text truncated]";
    }
  for (auto& item : result["content"]) {
    if (!item.is_object()) continue;
    if (item.contains("data") && item["data"].is_string() &&
        item["data"].get_ref<const std::string&>().size() > k_max_blob_in_details)
      item["data"] = "[" + std::to_string(item["data"].get_ref<const std::string&>().size()) +
                     " bytes of base64 omitted]";
    if (item.contains("resource") && item["resource"].is_object()) {
      auto& r = item["resource"];
      if (r.contains("blob") && r["blob"].is_string() &&
          r["blob"].get_ref<const std::string&>().size() > k_max_blob_in_details)
        r["blob"] = "[" + std::to_string(r["blob"].get_ref<const std::string&>().size()) +
                    " bytes of base64 omitted]";
    }
  }
  // Each part is bounded, not their number: cap the whole (many items of 64 KiB each).
  if (const auto size = dump_json(result).size(); size > k_max_details_bytes)
    return {{"omitted", "[" + std::to_string(size) + " bytes of result omitted from the event]"},
            {"isError", result.value("isError", json(false)) == true}};
  return result;
}

std::string describe_item(const json& item) {
  const auto type = str(item, "type");
  if (type == "text") return str(item, "text");
  if (type == "image" || type == "audio") {
    const auto size = item.contains("data") && item["data"].is_string()
                          ? item["data"].get_ref<const std::string&>().size() * 3 / 4
                          : 0;
    return "[" + type + ": " + (str(item, "mimeType").empty() ? "unknown type" : str(item, "mimeType")) +
           ", about " + std::to_string(size) + " bytes]";
  }
  if (type == "resource" && item.contains("resource") && item["resource"].is_object()) {
    const auto& r = item["resource"];
    if (r.contains("text") && r["text"].is_string())
      return "[resource " + str(r, "uri") + "]\n" + r["text"].get<std::string>();
    return "[resource " + str(r, "uri") + ": " + str(r, "mimeType") + ", binary]";
  }
  if (type == "resource_link") {
    std::string line = "[resource link " + str(item, "uri");
    if (!str(item, "name").empty()) line += " \"" + str(item, "name") + "\"";
    if (!str(item, "description").empty()) line += ": " + str(item, "description");
    return line + "]";
  }
  return "[" + (type.empty() ? std::string("unknown") : type) + " content]";
}

std::string json_type_of(const json& schema) {
  return schema.is_object() ? str(schema, "type") : std::string();
}

} // namespace

std::string tool_name(const std::string& connection, const std::string& tool,
                      const std::string& prefix) {
  std::string full = prefix + "__" + connection + "__" + tool;
  std::string name;
  name.reserve(full.size());
  for (const unsigned char c : full)
    name += (std::isalnum(c) || c == '_' || c == '-') ? static_cast<char>(c) : '_';
  if (name.size() <= k_max_tool_name && name == full) return name;
  // Sanitized or too long: a hash of the full name keeps distinct tools distinct.
  char hash[10];
  std::snprintf(hash, sizeof hash, "_%08x", fnv1a(full));
  if (name.size() > k_max_tool_name - 9) name.resize(k_max_tool_name - 9);
  return name + hash;
}

ToolOutcome outcome_of(const std::string& connection, const std::string& tool, const json& result) {
  std::string text;
  bool has_text = false;
  if (result.contains("content") && result["content"].is_array())
    for (const auto& item : result["content"]) {
      if (!item.is_object()) continue;
      if (!text.empty()) text += "\n";
      text += describe_item(item);
      has_text = has_text || str(item, "type") == "text";
    }
  if (!has_text && result.contains("structuredContent"))
    text += (text.empty() ? "" : "\n") + dump_json(result["structuredContent"]);
  if (text.size() > runtime::k_max_tool_output) {
    text.resize(runtime::k_max_tool_output);
    text += "\n[output truncated]";
  }
  const bool is_error = result.value("isError", json(false)) == true;
  if (text.empty()) text = is_error ? "The tool failed without a message." : "(no output)";
  return {.text = text::to_utf8(text),
          .is_error = is_error,
          .details = {{"connection", connection}, {"tool", tool}, {"mcp", bounded(result)}}};
}

namespace {

std::string sanitized(const std::string& text) {
  std::string out;
  for (const unsigned char c : text)
    out += (std::isalnum(c) || c == '_' || c == '-') ? static_cast<char>(c) : '_';
  return out;
}

/// Whether `model_name` may be a tool of `connection` (tool_name's prefix, as far as it is kept).
bool may_belong(const std::string& model_name, const ConnectionConfig& config) {
  auto prefix = sanitized(config.tool_prefix + "__" + config.name + "__");
  if (prefix.size() > k_max_tool_name - 9) prefix.resize(k_max_tool_name - 9);
  return model_name.rfind(prefix, 0) == 0;
}

/// `text` as a value of a property of `type` (an answer typed as text).
json coerce(const std::string& text, const std::string& type) {
  const auto t = text::trim(text);
  try {
    if (type == "integer") return std::stoll(std::string(t));
    if (type == "number") return std::stod(std::string(t));
  } catch (const std::exception&) {
    return text; // the schema check says what is wrong
  }
  if (type == "boolean") {
    const auto l = lower(std::string(t));
    if (l == "true" || l == "yes" || l == "y") return true;
    if (l == "false" || l == "no" || l == "n") return false;
  }
  return text;
}

} // namespace

json elicitation_schema(const json& requested) {
  constexpr std::size_t k_max_properties = 32, k_max_enum = 64, k_max_text = 1000;
  constexpr std::int64_t k_max_length = 16384;
  json properties = json::object();
  const auto short_text = [&](const json& v) { return v.is_string() && v.get_ref<const std::string&>().size() <= k_max_text; };
  if (requested.is_object() && requested.contains("properties") && requested["properties"].is_object()) {
    for (const auto& [name, p] : requested["properties"].items()) {
      if (properties.size() >= k_max_properties) break;
      if (name.empty() || name.size() > 256 || !p.is_object() || !p.contains("type") || !p["type"].is_string())
        continue;
      const auto type = p["type"].get<std::string>();
      if (type != "string" && type != "number" && type != "integer" && type != "boolean") continue;
      const auto fits = [&](const json& v) {
        if (type == "string") return short_text(v);
        if (type == "integer") return v.is_number_integer();
        if (type == "number") return v.is_number();
        return v.is_boolean();
      };
      json out = {{"type", type}};
      for (const char* key : {"title", "description"})
        if (p.contains(key) && short_text(p[key])) out[key] = p[key];
      if (p.contains("enum") && p["enum"].is_array() && !p["enum"].empty() && p["enum"].size() <= k_max_enum &&
          std::all_of(p["enum"].begin(), p["enum"].end(), fits)) {
        out["enum"] = p["enum"];
        if (p.contains("enumNames") && p["enumNames"].is_array() && p["enumNames"].size() == p["enum"].size() &&
            std::all_of(p["enumNames"].begin(), p["enumNames"].end(), short_text))
          out["enumNames"] = p["enumNames"];
      }
      if (type == "string") {
        std::int64_t max = k_max_length;
        if (p.contains("maxLength") && p["maxLength"].is_number_unsigned())
          max = static_cast<std::int64_t>(std::min<std::uint64_t>(p["maxLength"].get<std::uint64_t>(), k_max_length));
        out["maxLength"] = max;
        if (p.contains("minLength") && p["minLength"].is_number_unsigned())
          out["minLength"] = std::min<std::uint64_t>(p["minLength"].get<std::uint64_t>(), static_cast<std::uint64_t>(max));
        if (p.contains("format") && p["format"].is_string()) {
          const auto format = p["format"].get<std::string>();
          if (format == "email" || format == "uri" || format == "date" || format == "date-time") out["format"] = format;
        }
      } else if (type != "boolean") {
        for (const char* key : {"minimum", "maximum"})
          if (p.contains(key) && p[key].is_number()) out[key] = p[key];
      }
      if (p.contains("default") && fits(p["default"])) out["default"] = p["default"];
      properties[name] = std::move(out);
    }
  }
  json schema = {{"type", "object"}, {"properties", properties}};
  if (requested.is_object() && requested.contains("required") && requested["required"].is_array()) {
    json required = json::array();
    for (const auto& r : requested["required"])
      if (r.is_string() && properties.contains(r.get<std::string>()) && required.size() < k_max_properties)
        required.push_back(r);
    if (!required.empty()) schema["required"] = std::move(required);
  }
  return schema;
}

namespace {

/// The OAuth consent of one tool call (issue 13 §4): a sign-in the call starts emits
/// authorization_required/completed on the session's stream and stops with the turn. Empty
/// when the call has no stream (headless: the flow fails instead of asking).
oauth::Consent consent_of(Pool& pool, const ToolContext& ctx) {
  oauth::Consent consent;
  if (!ctx.emit) return consent;
  consent.required = [&ctx](const json& data) { ctx.emit("authorization_required", data); };
  consent.completed = [&ctx](const json& data) { ctx.emit("authorization_completed", data); };
  consent.callback_base = pool.callback_base();
  consent.stop = ctx.cancel;
  return consent;
}

/// The Elicitor of one tool call (issue 13 §3): an elicitation/create of the server becomes a
/// question to the session's user through ctx.ask; the answer (an option, or text: a JSON object
/// of the fields, or the value of the only field) is checked against requestedSchema. Empty
/// when nobody can be asked (the connection then declines, as headless runs do).
Elicitor elicitor_of(const ToolContext& ctx, const std::string& connection, const std::string& tool) {
  if (!ctx.ask) return {};
  return [&ctx, connection, tool](const json& params, std::stop_token stop) -> json {
    const auto log = [&](const std::string& line) {
      if (ctx.log) ctx.log("warn", line);
    };
    if (!params.is_object() || params.value("mode", "form") != "form") {
      log("declined an elicitation of " + connection + " in a mode other than form");
      return {{"action", "decline"}};
    }
    if (params.contains("requestedSchema") && dump_json(params["requestedSchema"]).size() > 64 * 1024) {
      log("declined an elicitation of " + connection + ": its schema is larger than 64 KiB");
      return {{"action", "decline"}};
    }
    // The flat subset only: no regex, nested schema nor oversized string of the server's runs here.
    const json schema = elicitation_schema(params.contains("requestedSchema") ? params["requestedSchema"] : json());
    const json properties = schema.contains("properties") && schema["properties"].is_object()
                                ? schema["properties"] : json::object();
    std::string prompt = text::to_utf8(str(params, "message").substr(0, 4000));
    if (prompt.empty()) prompt = connection + " asks for input.";
    std::set<std::string> required;
    if (schema.contains("required") && schema["required"].is_array())
      for (const auto& r : schema["required"])
        if (r.is_string()) required.insert(r.get<std::string>());
    if (!properties.empty()) {
      prompt += "\nAnswer with a JSON object";
      if (properties.size() == 1) prompt += " (or just the value)";
      prompt += ":";
      std::size_t listed = 0;
      for (const auto& [name, p] : properties.items()) {
        if (++listed > 32) break;
        std::string line = "\n- " + name;
        std::string type = p.is_object() ? str(p, "type") : "";
        if (p.is_object() && p.contains("enum") && p["enum"].is_array())
          type += (type.empty() ? "" : ", ") + std::string("one of ") + dump_json(p["enum"]).substr(0, 300);
        if (required.count(name)) type += (type.empty() ? "" : ", ") + std::string("required");
        if (!type.empty()) line += " (" + type + ")";
        const auto desc = p.is_object() ? (str(p, "description").empty() ? str(p, "title") : str(p, "description")) : "";
        if (!desc.empty()) line += ": " + text::to_utf8(desc.substr(0, 300));
        prompt += line;
      }
    }
    json request = {{"prompt", prompt},
                    {"elicitation", {{"connection", connection}, {"tool", tool}, {"schema", schema}}}};
    if (properties.empty()) {
      request["display"] = "confirmation";
      request["allowFreeform"] = false;
      request["options"] = json::array({{{"id", "accept"}, {"label", "Accept"}, {"style", "primary"}},
                                        {{"id", "decline"}, {"label", "Decline"}, {"style", "danger"}}});
    } else {
      request["display"] = "text";
      request["allowFreeform"] = true;
      request["options"] = json::array({{{"id", "decline"}, {"label", "Decline"}, {"style", "danger"}},
                                        {{"id", "cancel"}, {"label", "Cancel"}}});
    }
    const json answer = ctx.ask(std::move(request), stop);
    if (!answer.is_object()) return {{"action", "cancel"}}; // nobody answered in time
    const auto option = str(answer, "optionId");
    if (option == "decline" || option == "cancel") return {{"action", option}};
    const auto text = option.empty() ? str(answer, "answer") : std::string();
    json content = json::object();
    if (!text::trim(text).empty()) {
      const json parsed = parse_json_or_discarded(text);
      if (parsed.is_object()) {
        content = parsed;
      } else if (properties.size() == 1) {
        // An iterator, not `*properties.items().begin()`: the proxy value of a temporary range
        // dangles (ASan: stack-use-after-scope in iteration_proxy_value::key()).
        const auto only = properties.begin();
        content[only.key()] = coerce(text, only->is_object() ? str(*only, "type") : "");
      } else {
        log("declined the elicitation of " + connection + ": the answer is not a JSON object");
        return {{"action", "decline"}};
      }
    }
    for (const auto& [name, p] : properties.items()) // defaults fill what was not given
      if (!content.contains(name) && p.is_object() && p.contains("default")) content[name] = p["default"];
    try {
      const auto violations = json_schema::shared_validator(schema)->validate(content);
      if (!violations.empty()) {
        log("declined the elicitation of " + connection + ": the answer does not match its schema: " +
            json_schema::describe(violations));
        return {{"action", "decline"}};
      }
    } catch (const std::invalid_argument& e) {
      log("declined the elicitation of " + connection + ": its schema is invalid: " + e.what());
      return {{"action", "decline"}};
    }
    return {{"action", "accept"}, {"content", content}};
  };
}

Tool make_tool(Pool& pool, const std::string& agent, const ConnectionConfig& config,
               const ToolInfo& info) {
  const auto connection = config.name;
  auto schema = info.input_schema;
  if (json_type_of(schema).empty()) schema["type"] = "object";
  Tool tool{.name = tool_name(connection, info.name, config.tool_prefix),
            .description = info.description.empty() ? info.title : info.description,
            .input_schema = runtime::make_schema(std::move(schema)),
            .approval = config.approval};
  if (!config.description.empty())
    tool.description = "[" + connection + ": " + config.description + "] " + tool.description;
  const auto server_tool = info.name;
  tool.run = [&pool, agent, connection, server_tool,
              model_name = tool.name](const json& input, const ToolContext& ctx) -> ToolOutcome {
    // OAuth (issue 13 §4): a sign-in this call starts asks the session's user through the stream.
    const auto consent = consent_of(pool, ctx);
    oauth::ConsentScope consent_scope(ctx.emit ? &consent : nullptr);
    try {
      const auto result = pool.call(
          agent, connection, server_tool, input, ctx.cancel, [&ctx](const json& progress) {
            if (!ctx.log) return;
            std::string line = "progress " + dump_json(progress.value("progress", json(0)));
            if (progress.contains("total")) line += "/" + dump_json(progress["total"]);
            if (progress.contains("message") && progress["message"].is_string())
              line += ": " + progress["message"].get<std::string>();
            ctx.log("info", line);
          },
          elicitor_of(ctx, connection, server_tool));
      return outcome_of(connection, server_tool, result);
    } catch (const Error& e) {
      if (e.info().type == "cancelled") return runtime::cancelled_outcome(model_name);
      return {.text = e.info().message,
              .is_error = true,
              .details = {{"connection", connection}, {"tool", server_tool},
                          {"error", e.info().type}}};
    }
  };
  return tool;
}

Tool search_tool(Pool& pool, const std::string& agent, const std::vector<const ConnectionConfig*>& configs) {
  std::string listing;
  for (const auto* c : configs) {
    if (listing.size() > 2048) {
      listing += ", ...";
      break;
    }
    listing += (listing.empty() ? "" : ", ") + c->name;
    if (!c->description.empty()) listing += " (" + text::to_utf8(c->description.substr(0, 120)) + ")";
  }
  Tool search{.name = "connection__search",
              .description = "Find tools of your connections (external services) by keywords in "
                             "their names and descriptions. Returns matching tool names with their "
                             "input schemas; call them by those names. Connections: " + listing + ".",
              .input_schema = runtime::make_schema(
                  {{"type", "object"},
                   {"properties",
                    {{"query", {{"type", "string"},
                                {"description", "Words to look for; empty lists every tool."}}},
                     {"connection", {{"type", "string"}, {"description", "Only this connection."}}}}},
                   {"required", {"query"}}})};
  search.run = [&pool, agent](const json& input, const ToolContext& ctx) -> ToolOutcome {
    const auto consent = consent_of(pool, ctx); // a connection this search starts may ask to sign in
    oauth::ConsentScope consent_scope(ctx.emit ? &consent : nullptr);
    const auto query = lower(input.value("query", std::string()));
    const auto only = input.value("connection", std::string());
    std::vector<std::string> words;
    for (const auto& w : text::split(query, ' '))
      if (!text::trim(w).empty()) words.emplace_back(text::trim(w));
    struct Match {
      int score;
      json entry;
    };
    std::vector<Match> matches;
    json failed = json::array();
    for (const auto* config : pool.of_agent(agent)) {
      if (!only.empty() && config->name != only) continue;
      std::vector<ToolInfo> listed;
      try { // the cached list when there is one: a search starts only what never listed
        auto cached = pool.cached_tools(agent, config->name);
        listed = cached ? std::move(*cached) : pool.tools(agent, config->name, ctx.cancel);
      } catch (const Error& e) {
        if (e.info().type == "cancelled") throw;
        failed.push_back({{"connection", config->name}, {"error", e.info().message}});
        continue;
      }
      for (const auto& t : listed) {
        const auto name = lower(t.name + " " + t.title), desc = lower(t.description);
        int score = words.empty() ? 1 : 0;
        for (const auto& w : words) {
          if (name.find(w) != std::string::npos) score += 2;
          else if (desc.find(w) != std::string::npos) score += 1;
        }
        if (score == 0) continue;
        matches.push_back({score, {{"name", tool_name(config->name, t.name, config->tool_prefix)},
                                   {"connection", config->name},
                                   {"description", t.description},
                                   {"inputSchema", t.input_schema}}});
      }
    }
    std::stable_sort(matches.begin(), matches.end(),
                     [](const Match& a, const Match& b) { return a.score > b.score; });
    json out = json::array();
    std::vector<std::string> names;
    for (std::size_t i = 0; i < matches.size() && i < k_max_search_results; ++i) {
      names.push_back(matches[i].entry["name"].get<std::string>());
      out.push_back(matches[i].entry);
    }
    pool.note_found(ctx.session_id, names); // offered by name in the session's later turns
    json details = {{"matches", out}, {"total", matches.size()}};
    if (!failed.empty()) details["unavailable"] = failed;
    std::string text = out.empty() ? "No connection tool matches \"" + query + "\"." : dump_json(out);
    if (!failed.empty()) text += "\nUnavailable connections: " + dump_json(failed);
    if (text.size() > runtime::k_max_tool_output) text.resize(runtime::k_max_tool_output);
    return {.text = text, .details = details};
  };
  return search;
}

} // namespace

std::vector<Tool> connection_tools(Pool& pool, const std::string& agent, const OfferOptions& options) {
  std::vector<Tool> tools;
  const auto configs = pool.of_agent(agent);
  if (configs.empty()) return tools;
  std::vector<std::pair<const ConnectionConfig*, std::vector<ToolInfo>>> cached;
  std::size_t total = 0;
  for (const auto* config : configs) {
    auto list = pool.cached_tools(agent, config->name);
    if (!list) continue;
    total += list->size();
    cached.emplace_back(config, std::move(*list));
  }
  const bool search_only = total > static_cast<std::size_t>(std::max(0, options.threshold));
  const auto found = search_only ? pool.found(options.session) : std::vector<std::string>{};
  for (const auto& [config, list] : cached)
    for (const auto& info : list) {
      if (search_only && std::find(found.begin(), found.end(),
                                   tool_name(config->name, info.name, config->tool_prefix)) == found.end())
        continue;
      tools.push_back(make_tool(pool, agent, *config, info));
    }
  tools.push_back(search_tool(pool, agent, configs));
  return tools;
}

std::optional<Tool> resolve_tool(Pool& pool, const std::string& agent, const std::string& model_name,
                                 std::stop_token cancel,
                                 std::function<void(const std::string&, const json&)> emit) {
  oauth::Consent consent;
  if (emit) {
    consent.required = [&emit](const json& data) { emit("authorization_required", data); };
    consent.completed = [&emit](const json& data) { emit("authorization_completed", data); };
    consent.callback_base = pool.callback_base();
    consent.stop = cancel;
  }
  oauth::ConsentScope consent_scope(emit ? &consent : nullptr);
  if ((model_name.rfind("connection__", 0) != 0 && model_name.rfind("mcp__", 0) != 0) ||
      model_name == "connection__search")
    return std::nullopt;
  for (const auto* config : pool.of_agent(agent)) {
    if (!may_belong(model_name, *config)) continue;
    auto cached = pool.cached_tools(agent, config->name);
    const auto list = cached ? std::move(*cached) : pool.tools(agent, config->name, cancel);
    for (const auto& info : list)
      if (tool_name(config->name, info.name, config->tool_prefix) == model_name)
        return make_tool(pool, agent, *config, info);
  }
  return std::nullopt;
}

std::string connection_approval(const Pool& pool, const std::string& agent,
                                const std::string& model_name) {
  if (model_name.rfind("connection__", 0) != 0 && model_name.rfind("mcp__", 0) != 0) return {};
  std::string approval;
  for (const auto* config : pool.of_agent(agent)) // the strictest of the candidates
    if (may_belong(model_name, *config)) {
      if (config->approval == "always" || approval.empty() ||
          (config->approval == "once" && approval == "never"))
        approval = config->approval;
    }
  return approval;
}

PoolOptions::Credentials store_credentials(store::Store& store, EnvLookup env,
                                           std::filesystem::path key_file) {
  struct Key {
    std::mutex mutex;
    bool ready = false; // an error is not kept: the next use tries again
    std::array<unsigned char, 32> bytes{};
  };
  auto key = std::make_shared<Key>();
  auto get = [key, env = std::move(env), file = std::move(key_file)]() -> std::array<unsigned char, 32> {
    std::lock_guard lock(key->mutex);
    if (!key->ready) {
      key->bytes = oauth::credentials_key(
          [&env](const std::string& name) -> std::optional<std::string> {
            if (env) return env(name);
            const char* v = std::getenv(name.c_str());
            return v ? std::optional<std::string>(v) : std::nullopt;
          },
          file);
      key->ready = true;
    }
    return key->bytes;
  };
  store::Store* s = &store;
  return {.load = [s, get](const std::string& k) -> std::optional<std::string> {
            const auto sealed = s->get_credential(k);
            if (!sealed) return std::nullopt;
            return oauth::unseal(get(), *sealed, k); // the row key is the seal's AAD
          },
          .save = [s, get](const std::string& k, const std::string& text) {
            s->put_credential(k, oauth::seal(get(), text, k));
          },
          .forget = [s](const std::string& k) { s->delete_credential(k); }};
}

std::shared_ptr<Pool> make_pool(const std::vector<runtime::AgentDef>& agents,
                                const std::filesystem::path& project_root,
                                bool sandbox_fail_closed,
                                std::function<void(const std::string&)> warn,
                                PoolOptions::Credentials credentials) {
  std::vector<const runtime::AgentDef*> all;
  for (const auto& a : agents) all.push_back(&a);
  for (std::size_t i = 0; i < all.size() && i < 4096; ++i) // subagents, breadth first
    for (const auto& sub : all[i]->subagents) all.push_back(&sub);
  std::shared_ptr<Pool> pool;
  for (const auto* agent : all) {
    if (!agent->connections.is_array() || agent->connections.empty()) continue;
    if (!pool)
      pool = std::make_shared<Pool>(PoolOptions{
          .project_root = project_root,
          .log = [warn](const std::string& a, const std::string& c, std::string_view level,
                        std::string_view text) {
            if (warn && (level == "warn" || level == "warning" || level == "error" ||
                         level == "critical" || level == "alert" || level == "emergency"))
              warn("connection " + a + "/" + c + ": " + std::string(text));
          },
          .credentials = credentials});
    const auto policy = runtime::agent_policy(agent->sandbox, project_root, sandbox_fail_closed);
    for (const auto& entry : agent->connections) {
      try {
        auto config = parse_connection(agent->name, entry, project_root);
        config.agent_id = agent_key(agent->name, agent->directory);
        pool->add(std::move(config), policy);
      } catch (const Error& e) {
        if (warn) warn(e.info().message);
      }
    }
  }
  return pool;
}

} // namespace hearth::mcp

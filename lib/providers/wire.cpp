// Shared wire helpers: see wire.hpp.
#include "providers/wire.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"

#include <cctype>

namespace hearth::providers {

std::string camel_to_snake(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty())
        out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

void apply_model_options(Json& body, const Json& options,
                         const std::map<std::string, std::string>& aliases,
                         const std::vector<std::string>& provider_keys) {
  if (!options.is_object())
    return;
  for (const auto& [key, value] : options.items()) {
    if (key == "providerOptions")
      continue;
    const auto alias = aliases.find(key);
    body[alias != aliases.end() ? alias->second : camel_to_snake(key)] = value;
  }
  const auto po = options.find("providerOptions");
  if (po == options.end() || !po->is_object())
    return;
  for (const auto& k : provider_keys) {
    const auto section = po->find(k);
    if (section == po->end() || !section->is_object())
      continue;
    for (const auto& [key, value] : section->items())
      body[camel_to_snake(key)] = value;
  }
}

ToolCall finish_tool_call(std::string id, std::string name, std::string arguments) {
  ToolCall call{.id = std::move(id), .name = std::move(name), .arguments = std::move(arguments)};
  if (call.arguments.find_first_not_of(" \t\r\n") == std::string::npos)
    call.arguments = "{}";
  try {
    call.input = hearth::parse_json(call.arguments);
  } catch (const Json::parse_error& e) {
    call.input = nullptr;
    call.input_error = std::string("arguments are not valid JSON: ") + e.what();
  }
  return call;
}

Json parse_stream_json(std::string_view data) {
  auto j = hearth::parse_json_or_discarded(data);
  if (!j.is_object())
    throw errors::provider_stream_invalid("a data line is not a JSON object: " +
                                          std::string(data.substr(0, 200)));
  return j;
}

std::string string_at(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t int_at(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

} // namespace hearth::providers

// JSON Schema validation through valijson; see json_schema.hpp.
#include "core/json_schema.hpp"

#include <mutex>
#include <unordered_map>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <stdexcept>

namespace hearth::json_schema {
namespace {

/// valijson's context ["<root>", "[port]", "[0]"] as a JSON pointer "/port/0".
std::string pointer_of(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']')
      token = token.substr(1, token.size() - 2);
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"')
      token = token.substr(1, token.size() - 2);
    out += "/" + token;
  }
  return out;
}

/// Rewrites valijson's wording into shorter sentences for the common constraint failures.
std::string friendly(const std::string& description) {
  static const std::pair<const char*, const char*> k_rewrites[] = {
      {"Value type not permitted by 'type' constraint.", "has the wrong type"},
      {"String should be no fewer than", "must not be empty"},
      {"Failed to match regex specified by 'pattern' constraint.", "has an invalid format"},
      {"Failed to match against any enum values.", "is not one of the allowed values"},
  };
  for (const auto& [from, to] : k_rewrites)
    if (description.rfind(from, 0) == 0) {
      if (std::string(to) == "must not be empty" &&
          description.find("no fewer than 1 ") == std::string::npos)
        return description;
      return to;
    }
  const std::string unknown = "Object contains a property that could not be validated using "
                              "'properties' or 'additionalProperties' constraints: '";
  if (description.rfind(unknown, 0) == 0)
    return "unknown key \"" + description.substr(unknown.size(), description.size() -
                                                                     unknown.size() - 2) + "\"";
  const std::string missing = "Missing required property '";
  if (description.rfind(missing, 0) == 0)
    return "missing required key \"" +
           description.substr(missing.size(), description.size() - missing.size() - 2) + "\"";
  return description;
}

} // namespace

struct Validator::Impl {
  valijson::Schema schema;
};

Validator::Validator(const nlohmann::json& schema) : m_impl(std::make_unique<Impl>()) {
  try {
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, m_impl->schema);
  } catch (const std::exception& e) {
    throw std::invalid_argument(e.what());
  }
}

Validator::~Validator() = default;
Validator::Validator(Validator&&) noexcept = default;
Validator& Validator::operator=(Validator&&) noexcept = default;

std::vector<Violation> Validator::validate(const nlohmann::json& instance) const {
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(instance);
  if (validator.validate(m_impl->schema, adapter, &results)) return {};
  std::vector<Violation> out;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    // valijson also reports each enclosing failure ("Failed to validate against schema
    // associated with property name 'x'."); the leaf messages already say everything.
    if (error.description.rfind("Failed to validate against", 0) == 0 ||
        error.description.rfind("Failed to validate item", 0) == 0)
      continue;
    out.push_back({pointer_of(error.context), friendly(error.description)});
  }
  if (out.empty()) out.push_back({"", "does not match the schema"});
  return out;
}

std::string schema_problem(const nlohmann::json& schema) {
  try {
    Validator v(schema);
    return {};
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

std::string describe(const std::vector<Violation>& violations) {
  std::string out;
  for (const auto& v : violations) {
    if (!out.empty()) out += "\n";
    out += (v.pointer.empty() ? std::string("(root)") : v.pointer) + ": " + v.message;
  }
  return out;
}

std::shared_ptr<const Validator> shared_validator(const nlohmann::json& schema) {
  // Replaced, not thrown on: an authored schema may hold invalid UTF-8.
  return shared_validator(schema,
                          schema.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::shared_ptr<const Validator> shared_validator(const nlohmann::json& schema,
                                                  std::string key) {
  constexpr std::size_t k_max_cached = 512; // distinct schemas: tools and results of a project
  // A request may carry its own schema (an Eve outputSchema, up to the body limit): large ones
  // are compiled for their turn and freed with it, so callers cannot pin memory in the cache.
  constexpr std::size_t k_max_cached_bytes = 64 * 1024;
  static std::mutex mutex;
  static std::unordered_map<std::string, std::shared_ptr<const Validator>> cache;
  if (key.size() > k_max_cached_bytes) return std::make_shared<const Validator>(schema);
  {
    std::lock_guard lock(mutex);
    if (const auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto compiled = std::make_shared<const Validator>(schema); // outside the lock: may be slow
  std::lock_guard lock(mutex);
  if (cache.size() >= k_max_cached) cache.clear(); // a project past the bound recompiles
  return cache.try_emplace(std::move(key), std::move(compiled)).first->second;
}

} // namespace hearth::json_schema

// JSON Schema validation (draft 7, through valijson) with readable messages and JSON-pointer
// paths; shared by hearth.json, tool inputs, workflow results and agent outputSchema.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace hearth::json_schema {

/// One violation: `pointer` is a JSON pointer into the instance ("" for the root, "/port").
struct Violation {
  std::string pointer{};
  std::string message{};
};

/// A compiled schema, reusable and safe to share between threads once built.
class Validator {
public:
  /// Compiles `schema`. Throws std::invalid_argument with valijson's reason when the schema
  /// itself is invalid (e.g. `{"type": 5}`); remote `$ref`s are not fetched and are an error.
  explicit Validator(const nlohmann::json& schema);
  ~Validator();
  Validator(Validator&&) noexcept;
  Validator& operator=(Validator&&) noexcept;

  /// Every violation of `instance`, most specific first; empty when it is valid.
  std::vector<Violation> validate(const nlohmann::json& instance) const;

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

/// The compiled form of `schema`, shared: each distinct schema (by its serialized text) is
/// compiled once per process and kept in a bounded cache (issue 17 §3: a turn compiled every
/// tool's schema again). Throws std::invalid_argument like the constructor (nothing cached).
std::shared_ptr<const Validator> shared_validator(const nlohmann::json& schema);

/// shared_validator for a caller that already serialized `schema`: `compact_text` must be its
/// hearth::dump_json (compact, invalid UTF-8 replaced), the cache key.
std::shared_ptr<const Validator> shared_validator(const nlohmann::json& schema,
                                                  std::string compact_text);

/// "" when `schema` compiles, else the reason it does not.
std::string schema_problem(const nlohmann::json& schema);

/// `violations` as one line each: `<pointer or (root)>: <message>`.
std::string describe(const std::vector<Violation>& violations);

} // namespace hearth::json_schema

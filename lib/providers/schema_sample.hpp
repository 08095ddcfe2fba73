// A minimal valid instance of a JSON Schema, for mock/echo's `finish` call: the smallest value that
// satisfies the usual structured-result schemas without being told anything about the task.
#pragma once

#include <nlohmann/json.hpp>

namespace hearth::providers {

/// A small instance of `schema`: `const`, else the first `enum` value; objects with their required
/// properties; strings "" (or the property name / "example" when minLength demands, or a sample
/// for format date-time, date, email, uri, uuid); numbers 0 (or the minimum); booleans false;
/// arrays [] (or minItems samples); null; the first anyOf/oneOf branch; allOf merged; local $refs.
/// Never throws; unknown shapes give null.
nlohmann::json schema_sample(const nlohmann::json& schema);

} // namespace hearth::providers

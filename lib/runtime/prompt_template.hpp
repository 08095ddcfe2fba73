// Declarative workflow bodies: Markdown prompt templates over `{{payload.<path>}}` (ARCHITECTURE.md
// §3). Rendering is strict, so a typo in a template or a missing payload key fails the run loudly.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace hearth::runtime {

/// Renders `body`, replacing each `{{ payload.a.b }}` (spaces optional; `payload` alone is the
/// whole payload; array items by index, `items.0`) with the value: strings verbatim, other JSON
/// compactly serialised. `\{{` escapes a literal `{{`.
/// Throws hearth::Error template_missing_key naming the path when the payload lacks it, and
/// template_invalid for an unterminated `{{` or an expression that is not `payload…`.
std::string render_template(std::string_view body, const nlohmann::json& payload,
                            std::string_view workflow);

} // namespace hearth::runtime

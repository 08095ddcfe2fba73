// Prompt template rendering; see prompt_template.hpp.
#include "runtime/prompt_template.hpp"

#include "core/errors.hpp"
#include "core/text.hpp"

namespace hearth::runtime {
namespace {

/// The value at `path` ("payload.a.0.b") inside `payload`, or nullptr when absent.
const nlohmann::json* lookup(const nlohmann::json& payload, std::string_view path) {
  const nlohmann::json* node = &payload;
  const auto parts = text::split(path, '.');
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string& key = parts[i];
    if (node->is_object()) {
      const auto it = node->find(key);
      if (it == node->end()) return nullptr;
      node = &*it;
    } else if (node->is_array() && !key.empty() &&
               key.find_first_not_of("0123456789") == std::string::npos && key.size() < 10) {
      const std::size_t index = std::stoul(key);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else {
      return nullptr;
    }
  }
  return node;
}

} // namespace

std::string render_template(std::string_view body, const nlohmann::json& payload,
                            std::string_view workflow) {
  std::string out;
  out.reserve(body.size());
  std::size_t i = 0;
  while (i < body.size()) {
    if (body.compare(i, 3, "\\{{") == 0) {
      out += "{{";
      i += 3;
      continue;
    }
    if (body.compare(i, 2, "{{") != 0) {
      out += body[i++];
      continue;
    }
    const std::size_t close = body.find("}}", i + 2);
    if (close == std::string_view::npos)
      throw errors::template_invalid(workflow, "an opening `{{` has no closing `}}`");
    const std::string_view expr = text::trim(body.substr(i + 2, close - i - 2));
    if (expr != "payload" && !text::starts_with(expr, "payload."))
      throw errors::template_invalid(workflow, "`{{" + std::string(expr) +
                                                   "}}` must start with `payload`");
    const nlohmann::json* value = lookup(payload, expr);
    if (value == nullptr) throw errors::template_missing_key(workflow, expr);
    out += value->is_string() ? value->get<std::string>() : value->dump();
    i = close + 2;
  }
  return out;
}

} // namespace hearth::runtime

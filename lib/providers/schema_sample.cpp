// Minimal JSON Schema instances: see schema_sample.hpp.
#include "providers/schema_sample.hpp"

#include <algorithm>
#include <string>

namespace hearth::providers {
namespace {

using nlohmann::json;

constexpr int k_max_depth = 32; // recursive $refs stop here

const json* resolve_ref(const json& root, const std::string& ref) {
  if (ref.empty() || ref[0] != '#')
    return nullptr;
  try {
    const auto ptr = json::json_pointer(ref.substr(1));
    return root.contains(ptr) ? &root.at(ptr) : nullptr;
  } catch (const json::exception&) {
    return nullptr;
  }
}

std::string first_type(const json& schema) {
  const auto t = schema.find("type");
  if (t != schema.end() && t->is_string())
    return t->get<std::string>();
  if (t != schema.end() && t->is_array()) {
    for (const auto& v : *t)
      if (v.is_string() && v != "null")
        return v.get<std::string>();
    return "null";
  }
  if (schema.contains("properties") || schema.contains("required"))
    return "object";
  if (schema.contains("items"))
    return "array";
  return {};
}

std::string sample_string(const json& schema, const std::string& name) {
  const auto format = schema.value("format", std::string());
  if (format == "date-time")
    return "1970-01-01T00:00:00Z";
  if (format == "date")
    return "1970-01-01";
  if (format == "email")
    return "user@example.com";
  if (format == "uri" || format == "url")
    return "https://example.com";
  if (format == "uuid")
    return "00000000-0000-0000-0000-000000000000";
  const auto min = schema.value("minLength", 0);
  if (min <= 0)
    return "";
  std::string s = name.empty() ? "example" : name;
  while (static_cast<int>(s.size()) < min)
    s += s;
  return s;
}

double sample_number(const json& schema, bool integer) {
  double v = 0;
  if (const auto m = schema.find("minimum"); m != schema.end() && m->is_number())
    v = std::max(v, m->get<double>());
  if (const auto m = schema.find("exclusiveMinimum"); m != schema.end() && m->is_number())
    v = std::max(v, m->get<double>() + 1);
  if (const auto m = schema.find("maximum"); m != schema.end() && m->is_number())
    v = std::min(v, m->get<double>());
  v = std::clamp(v, -9e15, 9e15); // keeps the integer cast defined
  return integer ? static_cast<double>(static_cast<long long>(v)) : v;
}

json sample(const json& root, const json& schema, const std::string& name, int depth) {
  if (!schema.is_object() || depth > k_max_depth)
    return nullptr;
  if (const auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string())
    if (const auto* target = resolve_ref(root, ref->get<std::string>()))
      return sample(root, *target, name, depth + 1);
  if (const auto c = schema.find("const"); c != schema.end())
    return *c;
  if (const auto e = schema.find("enum"); e != schema.end() && e->is_array() && !e->empty())
    return e->front();
  for (const char* key : {"anyOf", "oneOf"})
    if (const auto alts = schema.find(key);
        alts != schema.end() && alts->is_array() && !alts->empty())
      return sample(root, alts->front(), name, depth + 1);
  if (const auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
    json merged = nullptr;
    for (const auto& part : *all) {
      auto v = sample(root, part, name, depth + 1);
      if (merged.is_object() && v.is_object())
        merged.update(v);
      else if (merged.is_null())
        merged = std::move(v);
    }
    return merged;
  }
  const auto type = first_type(schema);
  if (type == "object") {
    json out = json::object();
    const auto props = schema.find("properties");
    if (const auto req = schema.find("required"); req != schema.end() && req->is_array())
      for (const auto& r : *req) {
        if (!r.is_string())
          continue;
        const auto key = r.get<std::string>();
        const bool known = props != schema.end() && props->is_object() && props->contains(key);
        out[key] = known ? sample(root, (*props)[key], key, depth + 1) : json("");
      }
    return out;
  }
  if (type == "array") {
    json out = json::array();
    const auto n = std::min(schema.value("minItems", 0), 16);
    const auto items = schema.find("items");
    for (int i = 0; i < n; ++i)
      out.push_back(items != schema.end() ? sample(root, *items, name, depth + 1) : json(""));
    return out;
  }
  if (type == "string")
    return sample_string(schema, name);
  if (type == "integer")
    return static_cast<long long>(sample_number(schema, true));
  if (type == "number")
    return sample_number(schema, false);
  if (type == "boolean")
    return false;
  return nullptr;
}

} // namespace

json schema_sample(const json& schema) {
  try {
    return sample(schema, schema, "", 0);
  } catch (const json::exception&) {
    return nullptr; // e.g. a minLength that is not a number
  }
}

} // namespace hearth::providers

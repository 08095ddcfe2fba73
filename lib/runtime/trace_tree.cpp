// Reading TraceEvents back: span durations and the indented tree of `hearth logs --traces`;
// see trace.hpp.
#include "runtime/trace.hpp"

#include <algorithm>
#include <set>

namespace hearth::runtime {
namespace {
using nlohmann::json;

std::string str(const json& data, const char* key) {
  const auto it = data.find(key);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

std::optional<long long> trace_duration(const json& trace_event) {
  const auto& a = trace_event.value("attributes", json::object());
  if (!a.is_object() || a.value("phase", "") != "end") return std::nullopt;
  const auto it = a.find("durationMs");
  if (it == a.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<long long>();
}

std::string render_trace_tree(const std::vector<json>& trace_events) {
  struct Node {
    std::string name, type, parent, detail, status;
    std::optional<long long> duration;
    std::vector<std::string> children;
  };
  std::map<std::string, Node> nodes;
  std::vector<std::string> order;
  for (const auto& e : trace_events) {
    if (!e.is_object()) continue;
    const auto& a = e.value("attributes", json::object());
    const auto& t = e.value("trace", json::object());
    if (!a.is_object() || !t.is_object()) continue;
    const auto id = str(a, "spanId");
    if (id.empty()) continue;
    auto [it, fresh] = nodes.try_emplace(id);
    auto& node = it->second;
    if (fresh) {
      order.push_back(id);
      node.name = str(e, "name");
      node.type = str(e, "type");
      node.parent = str(t, "parentId");
      for (const char* key : {"workflowName", "operationKind", "toolName", "agent", "decision",
                              "approvalId", "message"})
        if (const auto v = str(a, key); !v.empty()) node.detail += std::string(key) + "=" + v + " ";
    }
    if (const auto d = trace_duration(e)) node.duration = d;
    if (const auto s = str(a, "status"); !s.empty()) node.status = s;
  }
  std::vector<std::string> roots;
  for (const auto& id : order) {
    const auto parent = nodes[id].parent;
    if (!parent.empty() && parent != id && nodes.count(parent)) nodes[parent].children.push_back(id);
    else roots.push_back(id);
  }
  std::string out;
  std::set<std::string> seen;
  auto print_from = [&](const std::string& root) {
    std::vector<std::pair<std::string, std::size_t>> stack{{root, 0}}; // iterative: no recursion
    while (!stack.empty()) {
      const auto [id, depth] = stack.back();
      stack.pop_back();
      if (!seen.insert(id).second) continue;
      const auto& node = nodes[id];
      out += std::string(std::min<std::size_t>(depth, 32) * 2, ' ') + node.name + "  [" +
             node.type + "]";
      if (node.duration) out += "  " + std::to_string(*node.duration) + " ms";
      if (node.status == "error") out += "  ERROR";
      if (!node.detail.empty()) out += "  " + node.detail.substr(0, node.detail.size() - 1);
      out += '\n';
      for (auto c = node.children.rbegin(); c != node.children.rend(); ++c)
        stack.emplace_back(*c, depth + 1);
    }
  };
  for (const auto& root : roots) print_from(root);
  for (const auto& id : order) // a cycle of parents in hostile input: print what is left
    if (!seen.count(id)) print_from(id);
  return out;
}

} // namespace hearth::runtime

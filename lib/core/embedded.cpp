// Look-ups over the generated table of embedded files; see embedded.hpp.
#include "core/embedded.hpp"

namespace hearth::embedded {

std::optional<std::string_view> find(std::string_view path) {
  for (const auto& file : files())
    if (file.path == path) return file.data;
  return std::nullopt;
}

std::vector<File> under(std::string_view dir) {
  std::vector<File> out;
  for (const auto& file : files())
    if (file.path.substr(0, dir.size()) == dir) out.push_back(file);
  return out;
}

} // namespace hearth::embedded

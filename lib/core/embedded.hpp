// Files compiled into the binary at build time (templates/, docs/hearth.schema.json), so the
// installed binary works from any directory with nothing beside it.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace hearth::embedded {

struct File {
  std::string_view path{}; // relative to the source tree, e.g. "templates/default/hearth.json"
  std::string_view data{};
};

/// Every embedded file, sorted by path. Defined in the generated embedded_files.cpp.
const std::vector<File>& files();

/// The contents of the embedded file at `path`, or nullopt when nothing was embedded there.
std::optional<std::string_view> find(std::string_view path);

/// The embedded files under `dir` (a prefix ending in '/').
std::vector<File> under(std::string_view dir);

} // namespace hearth::embedded

// The built-in file tools of the default harness (ARCHITECTURE.md §5): read_file, write_file, glob
// and grep, all confined to the session workspace (sandbox::Workspace::resolve).
#pragma once

#include "runtime/tool.hpp"

#include <vector>

namespace hearth::runtime {

/// Output caps that keep one tool result small enough for a model context.
inline constexpr std::size_t k_max_read_bytes = 256 * 1024;
inline constexpr std::size_t k_max_listed_paths = 500;
inline constexpr std::size_t k_max_grep_matches = 200;

/// read_file {path, offset?, limit?} (lines, 1-based offset), write_file {path, content},
/// glob {pattern} and grep {pattern, path?, include?}. Each returns an error outcome (never
/// throws) for a path outside the workspace, a missing file or a bad pattern.
std::vector<Tool> file_tools();

} // namespace hearth::runtime

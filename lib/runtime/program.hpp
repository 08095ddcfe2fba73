// Loading the compiled manifest (docs/manifest.md) into the runtime's definitions.
#pragma once

#include "runtime/runtime.hpp"

#include <filesystem>

namespace hearth::runtime {

/// The runtime view of compiled manifest `manifest` of the project at `root`: relative paths
/// become absolute, tool commands resolve against their spec's directory, and agents come root
/// first. Throws hearth::Error manifest_invalid when a field has the wrong shape.
Program load_program(const nlohmann::json& manifest, const std::filesystem::path& root);

} // namespace hearth::runtime

// The built-in tools (ARCHITECTURE.md §5; issue 12 §3): one table of names, descriptions and input
// schemas. The runtime builds its tools from it (and validates calls against these schemas), and
// the manifest lists it, so `hearth info --json` shows exactly what the runtime accepts.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace hearth::manifest {

/// The built-in tools every agent has: [{name, description, inputSchema}], in listing order
/// (read_file, write_file, glob, grep, bash, load_skill, ask_question). The runtime implements
/// them; the manifest lists them so clients see one tool set.
const nlohmann::json& builtin_tools();

/// The entry of builtin_tools() named `name` ({name, description, inputSchema}). Throws
/// std::out_of_range for a name that is not a built-in (a programming error).
const nlohmann::json& builtin_tool(std::string_view name);

/// The input schema of the tool a subagent becomes: {message, outputSchema?}.
const nlohmann::json& subagent_tool_schema();

} // namespace hearth::manifest

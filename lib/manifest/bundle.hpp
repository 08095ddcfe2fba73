// `hearth build` output: a self-contained deployable directory that is itself a project root
// (authored files in the same layout + compiled .hearth/ artifacts + bin/hearth + Dockerfile),
// replaced atomically. Seeds: Flue deploy (page 11), Eve build output (page 14).
#pragma once

#include "config/config.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace hearth::manifest {

/// The marker file that identifies a directory as a hearth build output (so a later build may
/// replace it).
inline constexpr const char* k_bundle_marker = ".hearth-build.json";

struct BundleResult {
  std::filesystem::path output{};        // absolute output directory
  std::size_t files = 0;                 // authored files written
  std::size_t linked = 0;                // of those and bin/hearth: hard links to the previous output's copies
  std::vector<std::string> packages{};   // Debian packages the Dockerfile installs
};

/// Writes the build output of `project` to `output`. Precondition: compile(project) just ran
/// without errors (its artifacts are copied). Writes the authored inputs (manifest::scan_inputs,
/// modes and mtimes kept), hearth.json with `name` pinned and `output` dropped, `binary` as
/// bin/hearth (0755), a Dockerfile, README.md, the marker, and the .hearth/ artifacts with the
/// output's own input hash, so `hearth info --root <output>` reuses them without recompiling. Built in a sibling temp
/// directory, then swapped in with renameat2(RENAME_EXCHANGE) and the old tree removed.
/// The inputs are scanned before and after the copy and must equal each other and what the
/// compile recorded (compile-metadata.json): a file edited meanwhile, even with its mtime put
/// back, fails the build (build_inputs_changed) instead of shipping a manifest of other files.
/// Incremental: a file whose copy in the previous output still matches its source (size, mtime,
/// mode, copied after the source's last change by ctime) and is untouched since that build ended
/// (the inode and ctime the marker recorded then) is hard-linked from there; others are copied
/// (a reflink where the filesystem allows). Project files themselves are never linked.
/// Throws hearth::Error: build_output_unsafe (output contains the project, lies inside its sources,
/// or is a non-empty directory without the marker), build_inputs_changed, io_error.
/// `compiled`: the manifest compile(project) returned, when the caller has it (else it is read
/// back from the artifacts).
BundleResult write_bundle(const config::Project& project, const std::filesystem::path& output,
                          const std::filesystem::path& binary, const nlohmann::json* compiled = nullptr);

/// The DT_NEEDED sonames of the ELF file at `binary` (empty when it is not a 64-bit ELF).
std::vector<std::string> needed_libraries(const std::filesystem::path& binary);

/// The Debian 12 package providing `soname`, or "" when it ships with debian:12-slim or is unknown.
std::string debian_package_for(std::string_view soname);

} // namespace hearth::manifest

// The compiled manifest (docs/manifest.md): discovery lowered into one JSON document the runtime
// reads at start, plus Eve's artifact set under .hearth/ (ARCHITECTURE.md §4). Compiling is
// incremental: an unchanged input tree reuses the artifacts already on disk.
#pragma once

#include "config/config.hpp"
#include "discovery/discovery.hpp"
#include "manifest/builtins.hpp" // builtin_tools(), subagent_tool_schema()

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace hearth::manifest {

/// `kind` and `version` of the compiled manifest; bump the version on any incompatible change.
inline constexpr const char* k_manifest_kind = "hearth-compiled-manifest";
inline constexpr int k_manifest_version = 1;

/// The four artifacts, absolute paths under `<root>/.hearth/`.
struct Artifacts {
  std::filesystem::path discovery_manifest{}; // .hearth/discovery/agent-discovery-manifest.json
  std::filesystem::path diagnostics{};        // .hearth/discovery/diagnostics.json
  std::filesystem::path compiled_manifest{};  // .hearth/compile/compiled-agent-manifest.json
  std::filesystem::path metadata{};           // .hearth/compile/compile-metadata.json
};

/// The artifact paths of the project rooted at `root`.
Artifacts artifacts_for(const std::filesystem::path& root);

struct InputScan; // below

struct CompileResult {
  nlohmann::json manifest = nlohmann::json::object(); // the compiled manifest (docs/manifest.md);
                                                      // null when reused without loading it
  std::vector<discovery::Diagnostic> diagnostics{};
  std::string status{};     // "ready" (no errors) | "failed"
  bool reused = false;      // true when the input hash matched and nothing was recompiled
  std::string input_hash{}; // hex; see scan_inputs
  Artifacts artifacts{};

  std::size_t errors() const;
  std::size_t warnings() const;
};

/// Discovers and compiles `project`, then writes the four artifacts atomically (also when the
/// project has errors, so they can be inspected). When the input hash equals the one recorded in
/// compile-metadata.json and every artifact exists, loads them instead (`reused` = true).
/// Throws hearth::Error io_error when .hearth/ cannot be written. `scan`: scan_inputs(project)
/// when the caller already has it (saves a second walk). With `load_manifest` false a reused
/// compile leaves `manifest` null: the compiled manifest's bytes are only checked against the
/// hash compile-metadata.json recorded (`compiledManifestHash`), for callers that need the
/// verdict and diagnostics but not the manifest (`hearth run`, whose runtime loads it).
CompileResult compile(const config::Project& project, const InputScan* scan = nullptr,
                      bool load_manifest = true);

/// Reads a compiled manifest written by compile() (e.g. `dist/.hearth/compile/...`).
/// Throws hearth::Error manifest_invalid when the file is missing, not JSON, or of another kind or
/// version. `text`, when given, receives the file's bytes as parsed (the warm runtime's identity
/// hashes exactly what was loaded).
nlohmann::json load(const std::filesystem::path& path, std::string* text = nullptr);

/// The input tree of `project`: every file discovery may read (agent/, agents/, workflows/, the
/// flat slots, lib/ and helpers/ under the source root, and hearth.json `build.include`),
/// project-relative, sorted; and a hash over those paths, modes, the regular files' sizes and
/// mtimes, hearth.json, the resolved name/model, PATH and the hearth version; and a second hash
/// over each regular file's inode number and ctime (file_stamp). compile() reuses its artifacts
/// only when both match, so the check costs one lstat per entry and no read, yet a file replaced
/// by another with the same size and mtime (an editor's write-and-rename) or rewritten in place
/// with its mtime put back (`cp -p` onto it, `touch -r`) is read again: the kernel moves the
/// ctime on every write, chmod, link and unlink, and nothing sets it back.
/// The second hash is apart so that a copied tree (docker COPY, `cp -a`) keeps its input hash.
struct InputScan {
  std::string hash{};
  std::string inodes{};              // hex, over the `stamps` in order
  std::vector<std::string> files{};
  std::vector<std::string> stamps{}; // file_stamp of each of `files`, same order
};
InputScan scan_inputs(const config::Project& project);

/// "<inode>:<ctime in ns>" of the stat'ed file `st`: what tells two files of the same path, size
/// and mtime apart (InputScan, and the copies `hearth build` may link, bundle.hpp).
std::string file_stamp(const struct stat& st);

/// True when compile(project) would reuse the artifacts: compile-metadata.json records `scan`'s
/// hash and inodes and the other three artifacts are regular files. Reads only the metadata.
bool artifacts_current(const config::Project& project, const InputScan& scan);

/// Lowers a discovery result into the compiled manifest (pure; no I/O).
nlohmann::json to_manifest(const discovery::Discovery& found, const config::Project& project);

/// The path-level view written to agent-discovery-manifest.json (pure).
nlohmann::json to_discovery_manifest(const discovery::Discovery& found);

} // namespace hearth::manifest

// The compile step every command that runs a project shares (build, run, connect, dev): compile,
// and on discovery errors print the full report the way `eve build` does.
#pragma once

#include "config/config.hpp"
#include "manifest/manifest.hpp"

#include <optional>

namespace hearth::cli {

/// Prints every diagnostic of `result` on stderr: a count line, one `- <severity> <code> …` entry
/// per finding with its hint, and the diagnostics file's path.
void print_diagnostics_report(const manifest::CompileResult& result);

/// Compiles `project`. With errors: prints the report and returns nullopt (the caller exits 1).
/// Without: prints the warnings unless `quiet`, and returns the result. Throws hearth::Error for
/// I/O failures writing .hearth/. `load_manifest`: see manifest::compile.
std::optional<manifest::CompileResult> compile_reporting(const config::Project& project, bool quiet,
                                                         bool load_manifest = true);

} // namespace hearth::cli

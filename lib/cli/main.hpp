// The command-line entry point: builds the CLI11 definition, parses, dispatches, renders errors.
#pragma once

namespace hearth::cli {

/// Runs `hearth` with the given arguments and returns the process exit code (ExitCode).
/// Never throws: hearth::Error prints `Error: …` with hints on stderr; anything else is an
/// internal error.
int main(int argc, char** argv);

} // namespace hearth::cli

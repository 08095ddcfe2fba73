// Terminal output: the only place that writes to stdout/stderr for humans. Colour only on a TTY
// and never with NO_COLOR (https://no-color.org). stdout carries data; everything else is stderr.
#pragma once

#include "core/error.hpp"

#include <string>
#include <string_view>

namespace hearth::cli::terminal {

/// True when text written to `fd` may carry ANSI colour.
bool color_enabled(int fd);

/// `text` wrapped in an SGR sequence (`code` like "1" bold, "2" dim, "31" red) when stderr
/// shows colour, else unchanged.
std::string style(std::string_view code, std::string_view text, int fd = 2);

/// Prints `Error: <message>` then details and dev lines indented by four spaces, on stderr.
void print_error(const ErrorInfo& info);

/// A line on stderr (status, progress, hints).
void info(std::string_view line);

/// A warning line on stderr, `warning: …`.
void warn(std::string_view line);

/// A success line on stderr.
void success(std::string_view line);

} // namespace hearth::cli::terminal

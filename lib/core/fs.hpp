// File helpers with the project's error wording: whole-file reads and atomic writes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace hearth::fs {

/// The whole contents of `path`. Throws hearth::Error (io_error) when it cannot be read.
std::string read_file(const std::filesystem::path& path);

/// Writes `data` to `path` atomically: a temp file beside it, then rename, so readers never see a
/// partial file. Creates missing parent directories. `mode` sets the permission bits (e.g. 0755).
/// Throws hearth::Error (io_error).
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       std::filesystem::perms mode = std::filesystem::perms(0644));

/// `path` made absolute against `base` (when relative) and lexically normalised, without
/// resolving symlinks and without a trailing separator.
std::filesystem::path absolute_from(const std::filesystem::path& base,
                                    const std::filesystem::path& path);

/// `path` relative to `base` when it lies inside it, else `path` unchanged; '/' separated.
std::string display_path(const std::filesystem::path& path, const std::filesystem::path& base);

} // namespace hearth::fs

// What the store needs from the system: wall-clock times as stored and shown, process identity
// for run ownership (crash recovery), and random continuation tokens. Private to lib/store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::store::sys {

/// Milliseconds since the Unix epoch (UTC), the unit of every stored time.
std::int64_t now_ms();

/// `2026-11-21T01:47:00.205Z` for `ms` since the epoch.
std::string iso_ms(std::int64_t ms);

/// An identity for process `pid` that survives pid reuse: its start time in clock ticks since
/// boot (/proc/<pid>/stat field 22). Empty when the process does not exist or /proc is absent.
/// This process's own start is read once and kept; a failed read is tried again next call.
std::string process_start(int pid);

/// True when `pid` is running and, if `start` is not empty, is the same process that had it.
bool process_alive(int pid, const std::string& start);

/// 32 random hex digits from the OS entropy source, prefixed `ct_`. Throws hearth::Error
/// internal_error when the kernel gives none (ids::random_bytes).
std::string random_token();

/// The SHA-256 of `data` as 64 lowercase hex digits (dispatch input hashes).
std::string sha256_hex(std::string_view data);

} // namespace hearth::store::sys

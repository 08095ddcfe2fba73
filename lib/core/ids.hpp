// Identifiers: ULIDs (https://github.com/ulid/spec) and the prefixed ids built from them
// (`run_<ULID>` for workflow runs, ARCHITECTURE.md §5; `op_`, `turn_`, `sess_`, `sub_`, ...).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::ids {

/// Generates ULIDs: 26 Crockford base32 characters, a 48-bit Unix timestamp in milliseconds then 80
/// random bits. Within one millisecond (or when the clock steps back) the previous random part is
/// incremented, so ids from one generator sort strictly in creation order. Thread-safe.
class UlidGenerator {
public:
  /// The next ULID for the wall clock now.
  std::string next();

  /// The next ULID as if the clock read `now_ms` (milliseconds since the Unix epoch); for tests.
  std::string next_at(std::uint64_t now_ms);

private:
  std::mutex m_mutex;
  std::uint64_t m_last_ms = 0;
  std::uint8_t m_random[10] = {}; // big-endian 80-bit counter of the last id
  bool m_has_last = false;
};

/// Fills `out` with `size` bytes from the kernel's entropy pool (getrandom(2), blocking until it is
/// initialised): retries on EINTR and on short reads. Throws hearth::Error internal_error when the
/// kernel refuses (ENOSYS before Linux 3.17, a seccomp filter): no weaker source stands in.
void random_bytes(void* out, std::size_t size);

/// A new ULID from the process-wide generator (monotonic across threads).
std::string ulid();

/// `run_<ULID>`: the id of one workflow run (Flue's runId shape).
std::string run_id();

/// `<prefix>_<ULID>`, e.g. make_id("turn") -> "turn_01JD...". `prefix` is given without the
/// underscore; a trailing underscore is tolerated ("op_" and "op" give the same shape).
std::string make_id(std::string_view prefix);

/// True when `text` is 26 Crockford base32 characters whose first one is 0-7 (a 48-bit time).
bool is_ulid(std::string_view text);

/// The millisecond timestamp encoded in a ULID, or nullopt when `text` is not a ULID.
std::optional<std::uint64_t> ulid_time_ms(std::string_view text);

} // namespace hearth::ids

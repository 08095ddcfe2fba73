// Durable Streams offsets as Flue 0.11 prints them: `0000000000000000_<16-digit seq>`, plus the
// sentinels `-1` (start of stream) and `now` (current tail). Seed 003 page 17 "Stream reads".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::store {

/// A parsed `offset` query parameter. Reads are "strictly after" an offset, so `after_seq` is the
/// last seq the client has already seen (-1 for the start).
struct StreamOffset {
  enum class Kind { start, now, after };
  Kind kind = Kind::start;
  std::int64_t after_seq = -1; // meaningful for Kind::after (>= 0); -1 for Kind::start
};

/// `"0000000000000000_" + seq` zero-padded to 16 digits; `seq < 0` gives "-1" (the start), which
/// is what Stream-Next-Offset says for a stream nothing was read from.
std::string format_offset(std::int64_t seq);

/// Parses `-1`, `now` or the 16_16 form (the first half is accepted and ignored, as Flue does).
/// Throws errors::invalid_offset for anything else: empty, signs, spaces, wrong widths, overflow.
StreamOffset parse_offset(std::string_view text);

} // namespace hearth::store

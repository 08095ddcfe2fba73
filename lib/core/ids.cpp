// ULID generation and prefixed ids: see ids.hpp.
#include "core/ids.hpp"

#include "core/errors.hpp"

#include <cerrno>
#include <cstring>
#include <chrono>
#include <random>
#include <sys/random.h>

namespace hearth::ids {

void random_bytes(void* out, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  for (std::size_t done = 0; done < size;) {
    const ssize_t got = ::getrandom(bytes + done, size - done, 0);
    if (got > 0) {
      done += static_cast<std::size_t>(got);
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    throw errors::internal_error(std::string("getrandom failed: ") +
                                 (got < 0 ? std::strerror(errno) : "no bytes"));
  }
}

namespace {

constexpr char k_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford: no I, L, O, U
constexpr std::uint64_t k_max_time = (std::uint64_t{1} << 48) - 1;

void fill_random(std::uint8_t* out, std::size_t size) {
  try {
    random_bytes(out, size);
  } catch (const Error&) { // no getrandom: ids must stay unique, not secret
    static thread_local std::mt19937_64 fallback{std::random_device{}()};
    for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(fallback());
  }
}

// Adds one to the 80-bit big-endian counter; returns false when it wrapped to zero.
bool increment(std::uint8_t (&bytes)[10]) {
  for (int i = 9; i >= 0; --i)
    if (++bytes[i] != 0) return true;
  return false;
}

// 128 bits (time then randomness) as 26 base32 digits, 5 bits each, most significant first.
std::string encode(std::uint64_t ms, const std::uint8_t (&random)[10]) {
  std::uint8_t bytes[16];
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) bytes[6 + i] = random[i];
  std::string out(26, '0');
  // Bit position 0 is the most significant bit of a 130-bit number whose top 2 bits are zero.
  for (int digit = 0; digit < 26; ++digit) {
    int value = 0;
    for (int b = 0; b < 5; ++b) {
      const int bit = digit * 5 + b - 2; // index into the 128 real bits
      value <<= 1;
      if (bit >= 0) value |= (bytes[bit / 8] >> (7 - bit % 8)) & 1;
    }
    out[static_cast<std::size_t>(digit)] = k_alphabet[value];
  }
  return out;
}

int decode_digit(char c) {
  for (int i = 0; i < 32; ++i)
    if (k_alphabet[i] == c) return i;
  return -1;
}

std::uint64_t now_ms() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

} // namespace

std::string UlidGenerator::next() { return next_at(now_ms()); }

std::string UlidGenerator::next_at(std::uint64_t ms) {
  std::lock_guard lock(m_mutex);
  ms = std::min(ms, k_max_time);
  if (m_has_last && ms <= m_last_ms) {
    // Same millisecond or a clock step back: keep the last time and count up, so order holds.
    ms = m_last_ms;
    if (!increment(m_random)) { // 2^80 ids in one millisecond: borrow the next millisecond
      ms = std::min(ms + 1, k_max_time);
      fill_random(m_random, sizeof m_random);
    }
  } else {
    fill_random(m_random, sizeof m_random);
  }
  m_last_ms = ms;
  m_has_last = true;
  return encode(ms, m_random);
}

std::string ulid() {
  static UlidGenerator generator;
  return generator.next();
}

std::string run_id() { return make_id("run"); }

std::string make_id(std::string_view prefix) {
  if (!prefix.empty() && prefix.back() == '_') prefix.remove_suffix(1);
  return std::string(prefix) + "_" + ulid();
}

bool is_ulid(std::string_view text) { return ulid_time_ms(text).has_value(); }

std::optional<std::uint64_t> ulid_time_ms(std::string_view text) {
  if (text.size() != 26) return std::nullopt;
  std::uint64_t ms = 0;
  for (std::size_t i = 0; i < 26; ++i) {
    const int value = decode_digit(text[i]);
    if (value < 0 || (i == 0 && value > 7)) return std::nullopt;
    if (i < 10) ms = (ms << 5) | static_cast<std::uint64_t>(value); // 10 digits = 50 bits
  }
  return ms; // the first 50 bits are 2 zero bits then the 48-bit time
}

} // namespace hearth::ids

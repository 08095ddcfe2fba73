// Clock, process identity and randomness for the store: see system.hpp.
#include "store/system.hpp"

#include "core/ids.hpp"

#include <fmt/compile.h>
#include <openssl/evp.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <signal.h>
#include <unistd.h>
#include <sstream>

namespace hearth::store::sys {
namespace {

struct ProcStat {
  char state = '?';
  std::string start{};
};

// /proc/<pid>/stat is "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so
// fields are counted from the last ')'. starttime is field 22, the 20th after the ')'.
std::optional<ProcStat> read_stat(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  ProcStat stat;
  std::string field;
  for (int i = 0; i < 20 && fields >> field; ++i) {
    if (i == 0) stat.state = field.empty() ? '?' : field[0];
    if (i == 19) stat.start = field;
  }
  return stat;
}

} // namespace

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string iso_ms(std::int64_t ms) {
  // Civil date from the day count (C++20 calendar) and fmt's compiled format: no gmtime_r, whose
  // time-zone lock and strftime/snprintf cost ~3,000 instructions, at every event's timestamp
  // (issue 17 §3).
  using namespace std::chrono;
  const sys_time<milliseconds> time{milliseconds{ms}};
  const auto day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  const int year = static_cast<int>(date.year()); // 16-bit: at most "-32767"
  return fmt::format(FMT_COMPILE("{}{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z"),
                     year < 0 ? "-" : "", year < 0 ? -year : year,
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                     clock.subseconds().count());
}

std::string process_start(int pid) {
  // This process's own start never changes: read once (a run records it at creation), not per
  // run. Keyed by pid, so a forked child reads its own. A failed read is not kept: the next call
  // reads again (an empty start would make this process's runs look like anyone's).
  static std::mutex mutex;
  static int cached_pid = 0;
  static std::string cached{};
  const int self = static_cast<int>(::getpid());
  if (pid == self) {
    std::lock_guard lock(mutex);
    if (cached_pid == self) return cached;
  }
  const auto stat = read_stat(pid);
  std::string start = stat ? stat->start : std::string{};
  if (pid == self && !start.empty()) {
    std::lock_guard lock(mutex);
    cached_pid = self;
    cached = start;
  }
  return start;
}

bool process_alive(int pid, const std::string& start) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  const auto stat = read_stat(pid);
  if (!stat) return true; // no /proc: kill() is all we know
  if (stat->state == 'Z' || stat->state == 'X') return false; // exited, not yet reaped
  return start.empty() || stat->start == start;
}

std::string random_token() {
  // getrandom(2) directly: std::random_device opens /dev/urandom per construction.
  std::uint32_t words[4] = {};
  ids::random_bytes(words, sizeof words);
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string token = "ct_";
  for (auto word : words)
    for (int j = 0; j < 8; ++j, word >>= 4) token += k_hex[word & 0xf];
  return token;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

} // namespace hearth::store::sys

// libFuzzer target: the JSON-lines readers (issue 9). Raw bytes go through ipc::LineSplitter fed
// in fuzzer-chosen chunk sizes, each line through decode_line and back through encode_line, and
// the same bytes through a live ipc::Peer (its reader, JSON-RPC message handling, a request
// handler and a notification handler; replies go to /dev/null) until EOF closes it.
#include "core/error.hpp"
#include "ipc/json_lines.hpp"
#include "ipc/peer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

void split_and_decode(std::string_view bytes) {
  if (bytes.empty()) return;
  // The first byte picks the read size: 1..256 bytes per feed, as a pipe might deliver them.
  const std::size_t chunk = static_cast<unsigned char>(bytes[0]) + 1;
  bytes.remove_prefix(1);
  hearth::ipc::LineSplitter splitter("fuzz", 4096);
  try {
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
      splitter.feed(bytes.substr(at, chunk));
      while (auto line = splitter.next()) {
        try {
          const auto message = hearth::ipc::decode_line(*line, "fuzz");
          const auto again = hearth::ipc::decode_line(hearth::ipc::encode_line(message), "fuzz");
          if (again != message) __builtin_trap(); // encode/decode must round-trip
        } catch (const hearth::Error&) { // a bad line is a protocol error, nothing else
        }
      }
    }
  } catch (const hearth::Error&) { // a line over the cap
  }
}

void through_peer(std::string_view bytes) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return;
  const int sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  {
    hearth::ipc::Peer peer(in[0], sink, {.name = "fuzz", .max_line_bytes = 4096});
    peer.on_request("echo", [](const hearth::ipc::Request& r) { return r.params; });
    peer.on_request("fail", [](const hearth::ipc::Request&) -> nlohmann::json {
      throw hearth::Error({.type = "fuzz", .message = "failed on purpose"});
    });
    peer.on_notification("log", [](const hearth::ipc::Notification&) {});
    peer.start();
    std::size_t at = 0;
    while (at < bytes.size()) { // the reader drains the pipe meanwhile
      const auto n = ::write(in[1], bytes.data() + at, bytes.size() - at);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    ::close(in[1]);
    peer.wait_closed(std::chrono::seconds(5));
  }
  ::close(in[0]);
  ::close(sink);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  split_and_decode(bytes);
  // A live Peer costs threads and pipes (~100 executions/s): one input in 32 goes through it,
  // chosen by the first byte, so the splitter and decoder still run at full speed.
  if (!bytes.empty() && (static_cast<unsigned char>(bytes[0]) & 0xF8) == 0)
    through_peer(bytes.substr(1));
  return 0;
}

// bench_ipc: JSON-RPC round trips per second between two ipc::Peer objects over a pipe pair in
// one process (reader, writer and worker threads included), plus streamed-notification throughput.
// Prints figures; asserts nothing. Usage: bench_ipc [round_trips]
#include "ipc/peer.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace hearth::ipc;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void report(const char* what, long count, double seconds, const char* unit) {
  std::printf("%-44s %9ld %s in %6.3f s  %10.0f /s  %8.2f us each\n", what, count, unit, seconds,
              static_cast<double>(count) / seconds, seconds * 1e6 / static_cast<double>(count));
}

struct Pipes {
  int a_to_b[2]{};
  int b_to_a[2]{};
  Pipes() {
    if (::pipe(a_to_b) != 0 || ::pipe(b_to_a) != 0) std::abort();
  }
  ~Pipes() {
    for (const int fd : {a_to_b[0], a_to_b[1], b_to_a[0], b_to_a[1]}) ::close(fd);
  }
};

} // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 20000;
  Pipes pipes;
  Peer client(pipes.b_to_a[0], pipes.a_to_b[1], {.name = "server"});
  Peer server(pipes.a_to_b[0], pipes.b_to_a[1], {.name = "client"});
  server.on_request("echo", [](const Request& r) { return r.params; });
  server.on_request("stream", [&server](const Request& r) {
    const int count = r.params["count"].get<int>();
    for (int i = 0; i < count; ++i) server.notify_tagged(r.id, "event", {{"seq", i}});
    return json{{"count", count}};
  });
  client.start();
  server.start();

  const json small = {{"text", "hello"}, {"n", 1}};
  for (int i = 0; i < 1000; ++i) client.request("echo", small); // warm up threads and allocators

  auto start = Clock::now();
  for (long i = 0; i < n; ++i) client.request("echo", small);
  report("sequential round trips (small params)", n, seconds_since(start), "calls");

  for (const int threads : {4, 16}) {
    start = Clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        for (long i = 0; i < n / threads; ++i) client.request("echo", small);
      });
    for (auto& thread : pool) thread.join();
    const std::string label = "concurrent round trips (" + std::to_string(threads) + " threads)";
    report(label.c_str(), n / threads * threads, seconds_since(start), "calls");
  }

  const json big = {{"blob", std::string(64 * 1024, 'x')}};
  const long big_n = std::max(1L, n / 20);
  start = Clock::now();
  for (long i = 0; i < big_n; ++i) client.request("echo", big);
  report("sequential round trips (64 KiB params)", big_n, seconds_since(start), "calls");

  const int events = static_cast<int>(n * 5);
  long seen = 0;
  start = Clock::now();
  client.request("stream", {{"count", events}},
                 {.on_notification = [&seen](const Notification&) { ++seen; }});
  report("tagged event notifications, one request", seen, seconds_since(start), "events");
  return 0;
}

// bench_http: the HTTP server on loopback against mock/echo (lib/server). Prints figures only:
//   1. POST /workflows/hello?wait=result, sequential and 16 concurrent clients;
//   2. POST /eve/v1/session then its NDJSON stream read up to session.waiting, sequential;
//   3. N parked stream readers (default 1000): memory per reader and 202-admission latency.
// Bounded in count and time. Usage: bench_http [--store memory|sqlite] [--readers N] [--seconds S]
// `--serve S` only serves the same program for S seconds (for curl and client checks by hand).
#include "runtime/runtime.hpp"
#include "server/auth/auth.hpp"
#include "server/server.hpp"
#include "store/store.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace hearth;
using Clock = std::chrono::steady_clock;

namespace {

struct Figures {
  std::vector<double> ms;
  double seconds = 0;
  void print(const char* what) {
    std::sort(ms.begin(), ms.end());
    const auto pct = [&](double p) {
      return ms.empty() ? 0.0 : ms[std::min(ms.size() - 1, static_cast<std::size_t>(p * ms.size()))];
    };
    std::printf("%-52s %6zu in %5.2f s = %8.1f/s  p50 %6.2f ms  p99 %6.2f ms\n", what, ms.size(),
                seconds, ms.size() / seconds, pct(0.5), pct(0.99));
  }
};

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

template <typename Fn>
Figures timed(int max_count, double max_seconds, Fn&& one) {
  Figures f;
  const auto start = Clock::now();
  for (int i = 0; i < max_count; ++i) {
    const auto t = Clock::now();
    if (!one()) break;
    f.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    if (std::chrono::duration<double>(Clock::now() - start).count() > max_seconds) break;
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return f;
}

int park(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) return -1;
  return fd;
}

} // namespace

int main(int argc, char** argv) {
  std::string store_kind = "memory";
  int readers = 1000;
  double seconds = 8;
  double serve_only = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--store")) store_kind = argv[i + 1];
    if (!std::strcmp(argv[i], "--readers")) readers = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
    if (!std::strcmp(argv[i], "--serve")) serve_only = std::atof(argv[i + 1]);
  }
  const auto dir = std::filesystem::temp_directory_path() / ("bench_http_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto store = store::open_store(store_kind == "sqlite" ? "sqlite:" + (dir / "state.db").string()
                                                        : std::string("memory:"));
  runtime::AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                          .http = true};
  runtime::WorkflowDef hello{.name = "hello",
                             .result = {{"type", "object"},
                                        {"properties", {{"greeting", {{"type", "string"}}}}},
                                        {"required", {"greeting"}}},
                             .body = "Greet {{payload.name}}.",
                             .http = true};
  runtime::Runtime rt({.root_agent = "assistant", .agents = {agent}, .workflows = {hello}},
                      {.project_root = dir}, *store);
  // As `hearth start --insecure-no-auth`: route auth answers 401 to every client without it.
  auto open = std::make_shared<server::auth::Config>();
  open->insecure_no_auth = true;
  server::Server srv(rt, {.host = "127.0.0.1", .port = 0, .auth = open});
  srv.start();
  const int port = srv.port();
  std::printf("bench_http: store %s, server %s\n", store_kind.c_str(), srv.url().c_str());
  std::fflush(stdout);
  if (serve_only > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(serve_only));
    srv.shutdown(std::chrono::seconds(5));
    return 0;
  }

  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  const std::string payload = R"({"name":"World"})";
  auto seq = timed(5000, seconds, [&] {
    auto r = c.Post("/workflows/hello?wait=result", payload, "application/json");
    return r && r->status == 200;
  });
  seq.print("POST /workflows/hello?wait=result sequential");

  {
    constexpr int k_clients = 16;
    std::vector<std::vector<double>> per(k_clients);
    std::atomic<bool> stop{false};
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < k_clients; ++t)
      threads.emplace_back([&, t] {
        httplib::Client cc("127.0.0.1", port);
        cc.set_keep_alive(true);
        cc.set_tcp_nodelay(true);
        for (int i = 0; i < 1000 && !stop; ++i) {
          const auto t0 = Clock::now();
          auto r = cc.Post("/workflows/hello?wait=result", payload, "application/json");
          if (!r || r->status != 200) break;
          per[static_cast<std::size_t>(t)].push_back(
              std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          if (std::chrono::duration<double>(Clock::now() - start).count() > seconds) stop = true;
        }
      });
    for (auto& th : threads) th.join();
    Figures f;
    for (auto& v : per) f.ms.insert(f.ms.end(), v.begin(), v.end());
    f.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    f.print("POST /workflows/hello?wait=result 16 concurrent");
  }

  auto eve = timed(3000, seconds, [&] {
    auto r = c.Post("/eve/v1/session", R"({"message":"hello"})", "application/json");
    if (!r || r->status != 202) return false;
    const std::string id = nlohmann::json::parse(r->body)["sessionId"];
    httplib::Client sc("127.0.0.1", port);
    sc.set_read_timeout(10, 0);
    sc.set_tcp_nodelay(true);
    std::string seen;
    bool waiting = false;
    sc.Get("/eve/v1/session/" + id + "/stream?startIndex=0&streamControlVersion=1",
           [&](const char* data, std::size_t len) {
             seen.append(data, len);
             waiting = seen.find("\"type\":\"session.waiting\"") != std::string::npos;
             return !waiting; // stop reading at the boundary event
           });
    return waiting;
  });
  eve.print("POST /eve/v1/session + stream to session.waiting");

  // Parked readers: an open agent stream, long-polled from its tail.
  c.Post("/agents/assistant/park?wait=result", R"({"message":"hi"})", "application/json");
  const long before = rss_kib();
  const std::string request =
      "GET /agents/assistant/park?offset=now&live=long-poll HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<int> fds;
  const auto park_start = Clock::now();
  for (int i = 0; i < readers; ++i) {
    const int fd = park(port, request);
    if (fd >= 0) fds.push_back(fd);
  }
  // Let every reader reach its wait (bounded): poll /health until the pool stops growing.
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (c.Get("/eve/v1/health")) continue;
  }
  const long after = rss_kib();
  std::printf("%-52s %6zu readers parked in %.2f s; RSS +%ld KiB = %.1f KiB/reader\n",
              "parked long-poll readers", fds.size(),
              std::chrono::duration<double>(Clock::now() - park_start).count(), after - before,
              fds.empty() ? 0.0 : static_cast<double>(after - before) / static_cast<double>(fds.size()));
  auto admit = timed(300, seconds, [&] {
    auto r = c.Post("/workflows/hello", payload, "application/json");
    return r && r->status == 202;
  });
  admit.print("POST /workflows/hello (202) under parked readers");
  auto health = timed(300, seconds, [&] {
    auto r = c.Get("/eve/v1/health");
    return r && r->status == 200;
  });
  health.print("GET /eve/v1/health under parked readers");
  const auto stop_start = Clock::now();
  srv.shutdown(std::chrono::seconds(30));
  std::printf("shutdown with %zu parked readers: %.2f s\n", fds.size(),
              std::chrono::duration<double>(Clock::now() - stop_start).count());
  for (int fd : fds) ::close(fd);
  std::filesystem::remove_all(dir);
  return 0;
}

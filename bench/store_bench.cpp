// bench_store: append latency, read throughput and waiter wake-up latency of the durable store.
// Prints figures only; nothing here asserts a time. Usage: bench_store [dir] (default: a temp dir).
#include "store/store.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace hearth::store;
using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Stats {
  double median = 0, p99 = 0, mean = 0, max = 0;
};

Stats stats(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  Stats s;
  if (samples.empty()) return s;
  s.median = samples[samples.size() / 2];
  s.p99 = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  s.max = samples.back();
  for (const double v : samples) s.mean += v;
  s.mean /= static_cast<double>(samples.size());
  return s;
}

void print(const char* what, const Stats& s, const char* unit = "us") {
  std::printf("%-46s median %9.2f %s   p99 %9.2f %s   mean %9.2f %s   max %9.2f %s\n", what,
              s.median, unit, s.p99, unit, s.mean, unit, s.max, unit);
}

// A typical small event: a log line or a text delta with a few envelope fields.
NewEvent sample_event(int i) {
  return {.type = "log",
          .data = {{"level", "info"},
                   {"message", "processing item " + std::to_string(i) + " of the batch"},
                   {"runId", "run_01JD3Q8X9Z4K7M2N5P6R8T0V1W"},
                   {"attributes", {{"step", i}, {"ok", true}}}}};
}

void bench_appends(Store& store, const char* label) {
  constexpr int k_events = 20000;
  store.create_stream("bench/appends");
  std::vector<double> samples;
  samples.reserve(k_events);
  for (int i = 0; i < k_events; ++i) {
    const auto event = sample_event(i);
    const auto start = Clock::now();
    store.append("bench/appends", event);
    samples.push_back(micros(Clock::now() - start));
  }
  print((std::string(label) + ": append, 1 event per commit").c_str(), stats(samples));

  // Paced like a model streaming tokens: the background checkpointer keeps up, so no append
  // ever waits for an fsync.
  samples.clear();
  for (int i = 0; i < 3000; ++i) {
    const auto event = sample_event(i);
    const auto start = Clock::now();
    store.append("bench/appends", event);
    samples.push_back(micros(Clock::now() - start));
    std::this_thread::sleep_until(start + std::chrono::microseconds(500));
  }
  print((std::string(label) + ": append, paced 1 per 0.5 ms").c_str(), stats(samples));

  store.create_stream("bench/batches");
  std::vector<NewEvent> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(sample_event(i));
  samples.clear();
  for (int i = 0; i < k_events / 10; ++i) {
    const auto start = Clock::now();
    store.append_batch("bench/batches", batch);
    samples.push_back(micros(Clock::now() - start) / 10);
  }
  print((std::string(label) + ": append_batch of 10, per event").c_str(), stats(samples));

  const auto start = Clock::now();
  std::int64_t offset = -1;
  std::size_t events = 0;
  for (;;) {
    const auto page = store.read("bench/appends", offset);
    events += page.events.size();
    offset = page.next_seq;
    if (page.up_to_date) break;
  }
  const double seconds = micros(Clock::now() - start) / 1e6;
  std::printf("%-46s %zu events in %.3f s = %.0f events/s (pages of %zu)\n",
              (std::string(label) + ": read throughput").c_str(), events, seconds,
              static_cast<double>(events) / seconds, k_default_page);
}

// Wake-up latency: the time from the start of an append to the moment a waiter returns.
Stats wake_latency(Store& writer, Store& follower, const std::string& path, int rounds) {
  writer.create_stream(path);
  std::vector<double> samples;
  std::mt19937 rng(7);
  for (int i = 0; i < rounds; ++i) {
    std::atomic<bool> waiting{false};
    Clock::time_point woke{};
    std::thread waiter([&] {
      waiting = true;
      follower.wait_for_events(path, i - 1, Clock::now() + std::chrono::seconds(10));
      woke = Clock::now();
    });
    while (!waiting) std::this_thread::yield();
    // Let it block, then append at a random moment: pollers tick on a fixed 50 ms grid.
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 60000));
    const auto appended = Clock::now();
    writer.append(path, sample_event(i));
    waiter.join();
    samples.push_back(micros(woke - appended));
  }
  return stats(samples);
}

void bench_many_waiters(Store& store) {
  constexpr int k_waiters = 1000;
  for (int i = 0; i < k_waiters; ++i) store.create_stream("bench/many/" + std::to_string(i));
  std::atomic<int> ready{0}, woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < k_waiters; ++i)
    threads.emplace_back([&, i] {
      ++ready;
      if (store.wait_for_events("bench/many/" + std::to_string(i), -1,
                                Clock::now() + std::chrono::seconds(30)))
        ++woken;
    });
  while (ready < k_waiters) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto start = Clock::now();
  for (int i = 0; i < k_waiters; ++i) store.append("bench/many/" + std::to_string(i), sample_event(i));
  const auto appended = Clock::now();
  for (auto& t : threads) t.join();
  std::printf("%-46s %d/%d woken; 1000 appends took %.1f ms, all woken after %.1f ms\n",
              "1000 waiters on 1000 streams", woken.load(), k_waiters,
              micros(appended - start) / 1000, micros(Clock::now() - start) / 1000);
}

} // namespace

int main(int argc, char** argv) {
  const auto dir = argc > 1 ? std::filesystem::path(argv[1])
                            : std::filesystem::temp_directory_path() /
                                  ("hearth-bench-store-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto location = "sqlite:" + (dir / "state.db").string();
  std::printf("store: %s (WAL, synchronous=NORMAL)\n", location.c_str());
  {
    auto file = open_store(location);
    bench_appends(*file, "sqlite");
    auto memory = open_store("memory:");
    bench_appends(*memory, "memory");

    print("wake-up, same Store (condition variable)", wake_latency(*file, *file, "bench/w1", 100));
    auto other = open_store(location); // a second process's view of the same file
    print("wake-up, other Store on the file (50 ms poll)",
          wake_latency(*file, *other, "bench/w2", 40), "us");
    bench_many_waiters(*file);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

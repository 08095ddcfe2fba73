// Debouncer (with a fake clock) and Rebuilder (one build at a time, one queued).
#include "watch/rebuilder.hpp"

#include <doctest/doctest.h>

#include <atomic>

using namespace hearth::watch;
using namespace std::chrono_literals;

TEST_SUITE("watch") {
  TEST_CASE("debounce fires 150 ms after the last change of a burst, once") {
    Debouncer debounce;
    const auto t0 = Debouncer::Clock::time_point{} + 1h;
    CHECK_FALSE(debounce.deadline());
    debounce.note(t0);
    debounce.note(t0 + 100ms);
    CHECK(*debounce.deadline() == t0 + 250ms);
    CHECK_FALSE(debounce.fire(t0 + 249ms));
    CHECK(debounce.fire(t0 + 250ms));
    CHECK_FALSE(debounce.fire(t0 + 400ms));
    CHECK_FALSE(debounce.deadline());
  }

  TEST_CASE("debounce caps a continuous stream of changes at max_wait") {
    Debouncer debounce(150ms, 1s);
    const auto t0 = Debouncer::Clock::time_point{} + 1h;
    auto t = t0;
    for (; t < t0 + 1s; t += 100ms) {
      debounce.note(t);
      CHECK_FALSE(debounce.fire(t));
    }
    CHECK(debounce.fire(t0 + 1s));
  }

  TEST_CASE("rebuilder runs one build at a time and queues exactly one follow-up") {
    std::mutex gate_mutex;
    std::condition_variable gate_cv;
    bool open = false;
    std::atomic<int> running{0}, max_running{0}, runs{0};
    Rebuilder rebuilder([&] {
      const int now = ++running;
      max_running = std::max(max_running.load(), now);
      ++runs;
      std::unique_lock lock(gate_mutex);
      gate_cv.wait(lock, [&] { return open; });
      --running;
    });
    rebuilder.request();
    for (int i = 0; i < 200 && runs.load() == 0; ++i) std::this_thread::sleep_for(1ms); // poll
    REQUIRE(runs.load() == 1);
    for (int i = 0; i < 10; ++i) rebuilder.request(); // all during the first build
    CHECK(rebuilder.busy());
    {
      std::lock_guard lock(gate_mutex);
      open = true;
    }
    gate_cv.notify_all();
    CHECK(rebuilder.wait_idle(5s));
    CHECK(runs.load() == 2);
    CHECK(max_running.load() == 1);
    CHECK_FALSE(rebuilder.busy());

    rebuilder.request(); // idle again: starts at once
    CHECK(rebuilder.wait_idle(5s));
    CHECK(runs.load() == 3);
  }

  TEST_CASE("a cancelled queued build does not run") {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    std::atomic<int> runs{0};
    Rebuilder rebuilder([&] {
      ++runs;
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return open; });
    });
    rebuilder.request();
    for (int i = 0; i < 200 && runs.load() == 0; ++i) std::this_thread::sleep_for(1ms);
    rebuilder.request();
    rebuilder.cancel_queued();
    {
      std::lock_guard lock(m);
      open = true;
    }
    cv.notify_all();
    CHECK(rebuilder.wait_idle(5s));
    CHECK(runs.load() == 1);
  }
}

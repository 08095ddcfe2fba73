// The scheduler's pieces that need no runtime: the scaled clock tests use, and reading the
// manifest's schedules (settings, defaults, invalid cron skipped).
#include "triggers/scheduler.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace hearth::triggers;

namespace {
std::int64_t real_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
} // namespace

TEST_SUITE("triggers") {
  TEST_CASE("a scaled clock runs `scale` times faster from its epoch; two with one epoch agree") {
    const auto epoch = real_ms() - 10'000; // 10 s ago
    const Clock a(60, epoch), b(60, epoch);
    const auto now = a.now_ms();
    CHECK(now >= epoch + 600'000 - 60 * 50); // ~10 virtual minutes later (50 ms slack, scaled)
    CHECK(now <= epoch + 600'000 + 60 * 1000);
    CHECK(std::llabs(b.now_ms() - now) < 60 * 200);
    // One virtual minute ahead is one real second away.
    const auto wait = a.until(now + 60'000);
    CHECK(wait.count() >= 900);
    CHECK(wait.count() <= 1100);
    CHECK(a.until(now - 1).count() == 0);
    const Clock real;
    CHECK(std::llabs(real.now_ms() - real_ms()) < 1000);
  }

  TEST_CASE("schedules load from the manifest with their settings; invalid cron is skipped") {
    const auto list = load_schedules(nlohmann::json::array(
        {{{"name", "tick"}, {"cron", "* * * * *"}, {"agent", "a"}, {"prompt", "Tick."},
          {"catchUp", true}, {"overlap", "queue"}},
         {{"name", "plain"}, {"cron", "@daily"}, {"prompt", "P"}},
         {{"name", "bad"}, {"cron", "61 * * * *"}, {"prompt", "B"}}}));
    REQUIRE(list.size() == 2);
    CHECK(list[0].catch_up);
    CHECK(list[0].overlap == "queue");
    CHECK(list[0].spec.minutes.all());
    CHECK_FALSE(list[1].catch_up);
    CHECK(list[1].overlap == "skip");
    CHECK(load_schedules(nullptr).empty());
  }
}

TEST_CASE("triggers: HEARTH_CLOCK_EPOCH past 2100 is ignored (no overflow in now_ms)") {
  ::setenv("HEARTH_CLOCK_SCALE", "60", 1);
  ::setenv("HEARTH_CLOCK_EPOCH", "9223372036854775807", 1);
  const auto clock = hearth::triggers::Clock::from_env();
  ::unsetenv("HEARTH_CLOCK_SCALE");
  ::unsetenv("HEARTH_CLOCK_EPOCH");
  const auto real = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
  const auto now = clock.now_ms();
  CHECK(now >= real - 1000);
  CHECK(now <= real + 60LL * 24 * 3600 * 1000); // the epoch is the process start: close to real
}

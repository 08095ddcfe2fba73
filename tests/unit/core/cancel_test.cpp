// Cancellation tokens: the interruptible sleep, the eventfd for poll() loops, the registry.
#include "core/cancel.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <poll.h>
#include <thread>

using namespace hearth::cancel;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

} // namespace

TEST_SUITE("cancel") {
  TEST_CASE("sleep_for wakes as soon as the token is stopped, and sleeps out the time otherwise") {
    std::stop_source source;
    const auto started = Clock::now();
    std::thread stopper([&] {
      std::this_thread::sleep_for(50ms);
      source.request_stop();
    });
    CHECK(sleep_for(source.get_token(), 10s));
    stopper.join();
    CHECK(Clock::now() - started < 2s);
    CHECK(sleep_for(source.get_token(), 10s)); // already stopped: at once
    CHECK_FALSE(sleep_for(std::stop_token(), 20ms)); // a token that cannot stop: the full time
  }

  TEST_CASE("a StopFd polls readable once its token is stopped, and not before") {
    std::stop_source source;
    const StopFd stop(source.get_token());
    REQUIRE(stop.fd() >= 0);
    CHECK_FALSE(readable(stop.fd(), 0));
    source.request_stop();
    CHECK(readable(stop.fd(), 1000));
    SUBCASE("a default token has no fd") { CHECK(StopFd(std::stop_token()).fd() == -1); }
    SUBCASE("an already stopped token is readable at once") {
      const StopFd late(source.get_token());
      CHECK(readable(late.fd(), 0));
    }
  }

  TEST_CASE("the registry cancels the work under a key and forgets entries that ended") {
    Registry registry;
    CHECK(registry.cancel("agents/a/1") == 0);
    {
      auto one = registry.enter("agents/a/1");
      auto other = registry.enter("agents/a/2");
      CHECK(registry.size() == 2);
      CHECK(registry.cancel("agents/a/1") == 1);
      CHECK(one.stop_requested());
      CHECK(one.token().stop_requested());
      CHECK_FALSE(other.stop_requested());
      auto moved = std::move(other); // a moved entry unregisters once
      CHECK(registry.size() == 2);
    }
    CHECK(registry.size() == 0);
    // A later turn under the same key starts uncancelled.
    auto next = registry.enter("agents/a/1");
    CHECK_FALSE(next.stop_requested());
    next.request_stop();
    CHECK(next.token().stop_requested());
  }
}

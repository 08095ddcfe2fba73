// StreamWatchers::listen / Store::watch_events: the asynchronous wake used by parked HTTP readers.
#include "store/store.hpp"

#include <doctest/doctest.h>

#include <atomic>

using namespace hearth::store;

TEST_SUITE("store") {
  TEST_CASE("watch_events wakes once on an append, at once when already satisfied, never after cancel") {
    auto store = open_store("memory:");
    store->create_stream("s");
    std::atomic<int> woke{0};
    auto handle = store->watch_events("s", -1, [&] { ++woke; });
    CHECK(woke == 0);
    store->append("s", {.type = "x", .data = nlohmann::json::object()});
    CHECK(woke == 1);
    store->append("s", {.type = "x", .data = nlohmann::json::object()});
    CHECK(woke == 1); // once
    handle.reset();

    std::atomic<int> at_once{0};
    auto satisfied = store->watch_events("s", 0, [&] { ++at_once; });
    CHECK(at_once == 1); // seq 1 > 0 already

    std::atomic<int> cancelled{0};
    auto pending = store->watch_events("s", 5, [&] { ++cancelled; });
    pending.reset();
    for (int i = 0; i < 6; ++i) store->append("s", {.type = "x", .data = nlohmann::json::object()});
    CHECK(cancelled == 0);

    std::atomic<int> on_close{0};
    auto closing = store->watch_events("s", 100, [&] { ++on_close; });
    store->close_stream("s");
    CHECK(on_close == 1);
  }
}

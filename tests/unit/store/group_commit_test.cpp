// Group commit (store/events.cpp, issue 17 §3): concurrent appends share transactions, each keeps
// its own seqs and its own error. SQLite stores (file and memory).
#include "core/error.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace hearth::store;

TEST_SUITE("store") {

TEST_CASE("concurrent appends keep consecutive seqs per stream and a closed stream fails alone") {
  TempProject tmp;
  for (const char* location : {"sqlite:state.db", "memory:"}) {
    CAPTURE(location);
    auto store = open_store(location, tmp.root());
    constexpr int k_threads = 8;
    constexpr int k_appends = 60;
    for (int t = 0; t < k_threads; ++t) store->create_stream("runs/t" + std::to_string(t));
    store->create_stream("runs/closed");
    store->close_stream("runs/closed");
    std::atomic<int> wrong_seq{0}, refused{0}, other_errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t)
      threads.emplace_back([&, t] {
        const auto path = "runs/t" + std::to_string(t);
        for (int i = 0; i < k_appends; ++i) {
          try {
            // Two events per batch: a group must not interleave one batch's seqs with another's.
            const auto first = store->append_batch(
                path, {{.type = "log", .data = {{"i", i}}}, {.type = "log", .data = {{"i", i}}}},
                false);
            if (first != 2 * i) ++wrong_seq;
            if (t == 0) {
              try {
                store->append("runs/closed", {.type = "log"});
              } catch (const hearth::Error& e) {
                if (e.info().type == "stream_closed") ++refused;
              }
            }
          } catch (const std::exception&) {
            ++other_errors;
          }
        }
      });
    for (auto& thread : threads) thread.join();
    CHECK(wrong_seq == 0);
    CHECK(other_errors == 0);
    CHECK(refused == k_appends);
    for (int t = 0; t < k_threads; ++t) {
      const auto page = store->read("runs/t" + std::to_string(t), -1, 1000);
      REQUIRE(page.events.size() == 2 * k_appends);
      for (int i = 0; i < 2 * k_appends; ++i) {
        CHECK(page.events[i].seq == i);
        CHECK(page.events[i].data["i"] == i / 2);
      }
    }
    CHECK(store->read("runs/closed", -1).events.empty());
  }
}

} // TEST_SUITE

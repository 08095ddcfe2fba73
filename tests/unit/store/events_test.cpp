// Contract tests for event streams: append, paging, closing, waiting (store/events.cpp).
#include "contract.hpp"

#include "core/error.hpp"

#include <atomic>
#include <chrono>
#include <thread>

using namespace hearth::store;
using namespace std::chrono_literals;

namespace {

NewEvent log_event(int n) { return {.type = "log", .data = {{"message", "line " + std::to_string(n)}}}; }

Deadline in(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

} // namespace

TEST_SUITE("store") {

STORE_CONTRACT("appends get consecutive seqs from 0 and read back strictly after an offset") {
  Backend backend;
  auto store = backend.open();
  CHECK(store->create_stream("agents/triage/t1"));
  CHECK_FALSE(store->create_stream("agents/triage/t1")); // idempotent
  for (int i = 0; i < 5; ++i) CHECK(store->append("agents/triage/t1", log_event(i)) == i);

  const auto all = store->read("agents/triage/t1", -1);
  CHECK(all.exists);
  REQUIRE(all.events.size() == 5);
  CHECK(all.events[0].seq == 0);
  CHECK(all.events[0].type == "log");
  CHECK(all.events[0].data["message"] == "line 0");
  CHECK(all.events[0].time.size() == 24); // 2026-11-21T01:47:00.205Z
  CHECK(all.events[0].time.back() == 'Z');
  CHECK(all.next_seq == 4);
  CHECK(all.next_offset() == "0000000000000000_0000000000000004");
  CHECK(all.up_to_date);
  CHECK_FALSE(all.closed);

  const auto after = store->read("agents/triage/t1", 2);
  REQUIRE(after.events.size() == 2);
  CHECK(after.events[0].seq == 3);

  const auto at_tail = store->read("agents/triage/t1", 4);
  CHECK(at_tail.events.empty());
  CHECK(at_tail.next_seq == 4);
  CHECK(at_tail.up_to_date);

  const auto past = store->read("agents/triage/t1", 100); // past the head: empty, no error
  CHECK(past.events.empty());
  CHECK(past.next_seq == 100);
}

STORE_CONTRACT("reads page through a long stream with a limit") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("runs/run_A");
  std::vector<NewEvent> batch;
  for (int i = 0; i < 250; ++i) batch.push_back(log_event(i));
  CHECK(store->append_batch("runs/run_A", batch) == 0);

  std::int64_t offset = -1;
  std::vector<std::int64_t> seen;
  int pages = 0;
  for (;;) {
    const auto page = store->read("runs/run_A", offset); // default page: 100
    ++pages;
    for (const auto& e : page.events) seen.push_back(e.seq);
    offset = page.next_seq;
    if (page.up_to_date) break;
    CHECK(page.events.size() == k_default_page);
  }
  CHECK(pages == 3);
  REQUIRE(seen.size() == 250);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == static_cast<std::int64_t>(i));

  const auto small = store->read("runs/run_A", 10, 3);
  REQUIRE(small.events.size() == 3);
  CHECK(small.events.back().seq == 13);
  CHECK_FALSE(small.up_to_date);
}

STORE_CONTRACT("a missing stream reads as empty and up to date, and refuses appends") {
  Backend backend;
  auto store = backend.open();
  const auto page = store->read("agents/nobody/x", -1);
  CHECK_FALSE(page.exists);
  CHECK(page.events.empty());
  CHECK(page.up_to_date);
  CHECK(page.next_offset() == "-1");
  CHECK_FALSE(store->stream_info("agents/nobody/x").has_value());
  CHECK_THROWS_WITH_AS(store->append("agents/nobody/x", log_event(0)),
                       doctest::Contains("was not found"), hearth::Error);
  CHECK_THROWS_AS(store->close_stream("agents/nobody/x"), hearth::Error);
}

STORE_CONTRACT("a closed stream refuses appends and reports closed once read to the end") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("runs/run_B");
  store->append_batch("runs/run_B", {log_event(0), log_event(1), log_event(2)});
  store->close_stream("runs/run_B");
  store->close_stream("runs/run_B"); // idempotent

  try {
    store->append("runs/run_B", log_event(3));
    FAIL("append to a closed stream succeeded");
  } catch (const hearth::Error& e) {
    CHECK(e.info().type == "stream_closed");
    CHECK(e.info().http_status == 409);
  }
  const auto partial = store->read("runs/run_B", -1, 2);
  CHECK_FALSE(partial.up_to_date);
  CHECK_FALSE(partial.closed); // Stream-Closed only once the reader reaches the end
  const auto rest = store->read("runs/run_B", partial.next_seq);
  CHECK(rest.events.size() == 1);
  CHECK(rest.up_to_date);
  CHECK(rest.closed);
  const auto info = store->stream_info("runs/run_B");
  REQUIRE(info.has_value());
  CHECK(info->closed);
  CHECK(info->last_seq == 2);
}

STORE_CONTRACT("a batch append is all or nothing and may close the stream") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("runs/run_C");
  CHECK(store->append_batch("runs/run_C", {log_event(0), log_event(1)}, true) == 0);
  CHECK_THROWS_AS(store->append_batch("runs/run_C", {log_event(2), log_event(3)}),
                  hearth::Error);
  const auto page = store->read("runs/run_C", -1);
  CHECK(page.events.size() == 2);
  CHECK(page.closed);
}

STORE_CONTRACT("concurrent appenders get distinct consecutive seqs") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("agents/a/1");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) store->append("agents/a/1", log_event(i));
    });
  for (auto& t : threads) t.join();
  const auto page = store->read("agents/a/1", -1, 1000);
  REQUIRE(page.events.size() == 200);
  for (std::size_t i = 0; i < page.events.size(); ++i)
    CHECK(page.events[i].seq == static_cast<std::int64_t>(i));
}

STORE_CONTRACT("to_json puts the envelope fields on the event body") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("runs/run_D");
  store->append("runs/run_D", {.type = "text_delta", .data = {{"text", "hi"}}});
  const Json j = to_json(store->read("runs/run_D", -1).events.at(0));
  CHECK(j["type"] == "text_delta");
  CHECK(j["text"] == "hi");
  CHECK(j["eventIndex"] == 0);
  const std::string timestamp = j["timestamp"];
  CHECK(timestamp.size() == 24);
}

STORE_CONTRACT("an event's time is when it happened when the writer says so, else the append's") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("runs/run_T");
  const std::int64_t happened = 1'700'000'000'123; // 2023-11-14T22:13:20.123Z
  store->append_batch("runs/run_T",
                      {{.type = "log", .data = {{"message", "a"}}, .time_ms = happened},
                       {.type = "log", .data = {{"message", "b"}}}},
                      false);
  const auto events = store->read("runs/run_T", -1).events;
  REQUIRE(events.size() == 2);
  CHECK(events[0].time == "2023-11-14T22:13:20.123Z");
  CHECK(to_json(events[0])["timestamp"] == "2023-11-14T22:13:20.123Z");
  CHECK(events[1].time > events[0].time); // stamped at the append: now
}

STORE_CONTRACT("wait_for_events returns at once when events or closure are already there") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("runs/run_E");
  store->append("runs/run_E", log_event(0));
  CHECK(store->wait_for_events("runs/run_E", -1, in(0ms)));
  CHECK_FALSE(store->wait_for_events("runs/run_E", 0, in(0ms)));
  CHECK_FALSE(store->wait_for_events("runs/never", -1, in(20ms))); // deadline, not forever
  store->close_stream("runs/run_E");
  CHECK(store->wait_for_events("runs/run_E", 0, in(0ms)));
}

STORE_CONTRACT("an append in this process wakes a waiter") {
  Backend backend;
  auto store = backend.open();
  store->create_stream("agents/b/1");
  std::atomic<int> woke{-1};
  std::thread waiter([&] { woke = store->wait_for_events("agents/b/1", -1, in(10s)) ? 1 : 0; });
  store->append("agents/b/1", log_event(0));
  waiter.join();
  CHECK(woke == 1);

  // Closing wakes a waiter at the tail, so an SSE follower can end.
  std::thread closer_waiter([&] { woke = store->wait_for_events("agents/b/1", 0, in(10s)) ? 2 : 0; });
  store->close_stream("agents/b/1");
  closer_waiter.join();
  CHECK(woke == 2);
}

STORE_CONTRACT("many waiters on many streams all wake and none hangs") {
  Backend backend;
  auto store = backend.open();
  constexpr int k_streams = 50;
  for (int s = 0; s < k_streams; ++s) store->create_stream("agents/c/" + std::to_string(s));
  std::atomic<int> woken{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < 200; ++w)
    waiters.emplace_back([&, w] {
      if (store->wait_for_events("agents/c/" + std::to_string(w % k_streams), -1, in(10s)))
        ++woken;
    });
  for (int s = 0; s < k_streams; ++s) store->append("agents/c/" + std::to_string(s), log_event(s));
  for (auto& t : waiters) t.join();
  CHECK(woken == 200);
}

STORE_CONTRACT("a second store on the same data sees appends through polling") {
  Backend backend;
  if constexpr (Backend::shared) {
    auto writer = backend.open();
    auto follower = backend.open(); // another connection set, as a second runtime process has
    writer->create_stream("runs/run_F");
    std::atomic<int> woke{-1};
    std::thread waiter([&] { woke = follower->wait_for_events("runs/run_F", -1, in(10s)) ? 1 : 0; });
    writer->append("runs/run_F", log_event(0));
    waiter.join();
    CHECK(woke == 1);
    CHECK(follower->read("runs/run_F", -1).events.size() == 1);

    std::thread closed_waiter([&] { woke = follower->wait_for_events("runs/run_F", 0, in(10s)) ? 2 : 0; });
    writer->close_stream("runs/run_F");
    closed_waiter.join();
    CHECK(woke == 2);
  }
}

} // TEST_SUITE

// The event log's commit policies (runtime/events.hpp CommitPolicy, issue 17 §3): immediate
// commits each event before emit() returns; deferred commits a queue in one transaction at
// flush(), from the background flusher, at the queue bound, or when the log goes.
#include "runtime/events.hpp"
#include "runtime/trace.hpp"

#include "core/error.hpp"
#include "store/store.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

/// The types stored in `path`, in stream order (TraceEvents included).
std::vector<std::string> stored_types(hearth::store::Store& store, const std::string& path) {
  std::vector<std::string> types;
  for (const auto& e : store.read(path, -1, 10000).events) types.push_back(e.type);
  return types;
}

/// Non-trace events only: what the runtime emitted itself.
std::vector<std::string> own_types(hearth::store::Store& store, const std::string& path) {
  std::vector<std::string> types;
  for (const auto& t : stored_types(store, path))
    if (t != "trace") types.push_back(t);
  return types;
}

} // namespace

TEST_SUITE("runtime.events") {
  TEST_CASE("immediate: each event is committed before emit returns") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/a");
    EventLog log(*store, "runs/a");
    log.emit("run_start", json::object(), {.run_id = "a"});
    CHECK(own_types(*store, "runs/a") == std::vector<std::string>{"run_start"});
    log.emit("log", {{"level", "info"}, {"message", "x"}}, {.run_id = "a"});
    CHECK(own_types(*store, "runs/a") == std::vector<std::string>{"run_start", "log"});
  }

  TEST_CASE("deferred: events wait for flush, then commit together and are shown in order") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/b");
    std::vector<json> shown;
    std::vector<std::size_t> stored_when_shown;
    EventLog log(*store, "runs/b",
                 [&](const json& e) {
                   shown.push_back(e);
                   stored_when_shown.push_back(store->read("runs/b", -1).events.size());
                 },
                 CommitPolicy::deferred);
    log.emit("run_start", json::object(), {.run_id = "b"});
    log.emit("log", {{"level", "info"}, {"message", "1"}}, {.run_id = "b"});
    log.emit("log", {{"level", "info"}, {"message", "2"}}, {.run_id = "b"});
    CHECK(stored_types(*store, "runs/b").empty()); // nothing committed, nothing shown
    CHECK(shown.empty());
    log.flush();
    const auto stored = store->read("runs/b", -1).events;
    REQUIRE(stored.size() == shown.size());
    for (std::size_t i = 0; i < shown.size(); ++i) {
      CHECK(shown[i]["eventIndex"] == static_cast<std::int64_t>(i));
      CHECK(shown[i]["type"] == stored[i].type);
      CHECK(stored_when_shown[i] == stored.size()); // one transaction: all stored before any shown
    }
    CHECK(own_types(*store, "runs/b") == std::vector<std::string>{"run_start", "log", "log"});
    log.flush(); // nothing queued: no-op
    CHECK(store->read("runs/b", -1).events.size() == stored.size());
  }

  TEST_CASE("the envelope is stored with each event; a field the event sets itself is kept") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/e");
    std::vector<json> shown;
    EventLog log(*store, "runs/e", [&](const json& e) { shown.push_back(e); },
                 CommitPolicy::deferred);
    const Envelope run{.run_id = "e"};
    const Envelope turn{.run_id = "e", .session = "s1", .harness = "default",
                        .operation_id = "op_1", .turn_id = "turn_1"};
    log.emit("run_start", {{"workflowName", "w"}}, run);
    log.emit("operation_start", {{"operationKind", "prompt"}}, turn);
    log.emit("message_end", {{"session", "own"}, {"runId", nullptr}}, turn);
    log.emit("log", {{"message", "again"}}, run); // an envelope seen before
    // Members stored beside the DOM: text as is, and one that replaces the envelope's runId.
    log.emit("turn_request", {{"model", "m"}, {"input", "own"}}, turn,
             {{.key = "input", .value = R"({"tools":[1]})", .raw = true},
              {.key = "runId", .value = "other"},
              {.key = "zz", .value = R"([true,null])", .raw = true}});
    log.flush();
    const auto stored = store->read("runs/e", -1, 100).events;
    std::vector<json> own;
    for (const auto& e : stored)
      if (e.type != "trace") own.push_back(e.data);
    REQUIRE(own.size() == 5);
    CHECK(own[0] == json{{"workflowName", "w"}, {"runId", "e"}});
    CHECK(own[1] == json{{"operationKind", "prompt"}, {"runId", "e"}, {"session", "s1"},
                         {"harness", "default"}, {"operationId", "op_1"}, {"turnId", "turn_1"}});
    CHECK(own[2] == json{{"session", "own"}, {"runId", nullptr}, {"harness", "default"},
                         {"operationId", "op_1"}, {"turnId", "turn_1"}});
    CHECK(own[3] == json{{"message", "again"}, {"runId", "e"}});
    CHECK(own[4] == json{{"model", "m"}, {"input", "own"}, {"runId", "other"}, {"session", "s1"},
                         {"harness", "default"}, {"operationId", "op_1"}, {"turnId", "turn_1"},
                         {"zz", json::array({true, nullptr})}});
    // TraceEvents carry the envelope of the event they derive from; the listener sees what a
    // reader of the store reads.
    for (const auto& e : stored)
      if (e.type == "trace") CHECK(e.data.value("runId", "") == "e");
    REQUIRE(shown.size() == stored.size());
    for (std::size_t i = 0; i < stored.size(); ++i) CHECK(shown[i] == hearth::store::to_json(stored[i]));
    // The operation's span names its own fields, taken from the envelope.
    bool operation_span = false;
    for (const auto& e : stored)
      if (e.type == "trace" && e.data["traceEvent"]["name"] == "operation") {
        operation_span = true;
        const auto& attributes = e.data["traceEvent"]["attributes"];
        CHECK(attributes.value("operationId", "") == "op_1");
        CHECK(attributes.value("session", "") == "s1");
        CHECK(e.data.value("operationId", "") == "op_1");
      }
    CHECK(operation_span);
  }

  TEST_CASE("a TraceEvent carries its event's envelope fields, not the event's other members") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/t");
    EventLog log(*store, "runs/t", {}, CommitPolicy::deferred);
    log.emit("run_start", json::object(), {.run_id = "t"});
    log.emit("agent_start", json::object(), {.run_id = "t", .session = "s1"},
             {{.key = "note", .value = R"({"big":true})", .raw = true},
              {.key = "session", .value = "s2"}});
    log.flush();
    const auto stored = store->read("runs/t", -1, 100).events;
    REQUIRE(stored.size() == 4); // run_start, its span start, agent_start, its span start
    CHECK(stored[2].data == json{{"note", {{"big", true}}}, {"runId", "t"}, {"session", "s2"}});
    CHECK(stored[3].type == "trace");
    CHECK_FALSE(stored[3].data.contains("note"));
    CHECK(stored[3].data.value("session", "") == "s2");
    CHECK(stored[3].data.value("runId", "") == "t");
  }

  TEST_CASE("deferred: an event keeps the time it was emitted, live and replayed alike") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/t");
    std::vector<json> shown;
    EventLog log(*store, "runs/t", [&](const json& e) { shown.push_back(e); },
                 CommitPolicy::deferred);
    const auto before = now_ms();
    log.emit("log", {{"level", "info"}, {"message", "x"}, {"timestamp", "ignored"}}, {.run_id = "t"});
    const auto after = now_ms();
    std::this_thread::sleep_for(std::chrono::milliseconds(15)); // the commit comes later
    log.flush();
    const auto stored = store->read("runs/t", -1).events;
    REQUIRE_FALSE(stored.empty());
    CHECK_FALSE(stored[0].data.contains("timestamp")); // kept once, as the event's time
    const auto ms = parse_iso_ms(stored[0].time);
    REQUIRE(ms);
    CHECK(*ms >= before);
    CHECK(*ms <= after); // not the commit's time
    REQUIRE_FALSE(shown.empty());
    CHECK(shown[0]["timestamp"] == stored[0].time); // the live stream showed the same
  }

  TEST_CASE("flush_with: the queue commits with the run's checkpoint and end, or not at all") {
    auto store = hearth::store::open_store("memory:");
    store->create_run({.run_id = "w", .workflow = "w", .resumable = true});
    std::vector<json> shown;
    EventLog log(*store, "runs/w", [&](const json& e) { shown.push_back(e); },
                 CommitPolicy::deferred);
    const auto checkpoint = [&](std::int64_t fence, int step) {
      return log.flush_with([&](const std::vector<hearth::store::NewEvent>& batch) {
        return store->checkpoint_run_after("w", fence, batch, {{"step", step}});
      });
    };
    log.emit("run_start", json::object(), {.run_id = "w"});
    log.emit("log", {{"level", "info"}, {"message", "1"}}, {.run_id = "w"});
    CHECK(checkpoint(0, 1));
    CHECK(store->run_checkpoint("w")["step"] == 1);
    const auto stored = store->read("runs/w", -1).events;
    REQUIRE(shown.size() == stored.size()); // committed, then shown with their eventIndex
    for (std::size_t i = 0; i < shown.size(); ++i)
      CHECK(shown[i]["eventIndex"] == static_cast<std::int64_t>(i));
    CHECK(checkpoint(0, 2)); // nothing queued: the write alone
    CHECK(store->run_checkpoint("w")["step"] == 2);

    // A fence that moved: the write says so, and the queued events are dropped unshown.
    log.emit("log", {{"level", "info"}, {"message", "2"}}, {.run_id = "w"});
    const auto before = shown.size();
    CHECK_FALSE(checkpoint(5, 3));
    CHECK(shown.size() == before);
    CHECK(store->read("runs/w", -1).events.size() == stored.size());

    // A write that fails wrote nothing: the events stay queued for the next flush.
    log.emit("log", {{"level", "info"}, {"message", "3"}}, {.run_id = "w"});
    CHECK_THROWS_AS(log.flush_with([](const std::vector<hearth::store::NewEvent>&)
                                       -> std::optional<std::int64_t> {
                      throw std::runtime_error("the write failed");
                    }),
                    std::runtime_error);
    CHECK(store->read("runs/w", -1).events.size() == stored.size());
    log.flush();
    CHECK(own_types(*store, "runs/w") == std::vector<std::string>{"run_start", "log", "log"});

    log.emit("operation", json::object(), {.run_id = "w"});
    CHECK(log.flush_with([&](const std::vector<hearth::store::NewEvent>& batch) {
      return store->end_run_after({.run_id = "w", .result = 1, .fence = 0}, batch);
    }));
    const auto page = store->read("runs/w", -1, 100);
    CHECK(page.closed);
    CHECK(page.events.back().type == "run_end");
    CHECK(own_types(*store, "runs/w") ==
          std::vector<std::string>{"run_start", "log", "log", "operation", "run_end"});
    CHECK(shown.back()["type"] != "run_end"); // run_end is the end's own, shown by its caller
  }

  TEST_CASE("deferred: the background flusher commits a queue nobody flushes") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/c");
    EventLog log(*store, "runs/c", {}, CommitPolicy::deferred);
    log.emit("run_start", json::object(), {.run_id = "c"});
    CHECK(stored_types(*store, "runs/c").empty());
    // Liveness, not speed: the commit comes k_deferred_commit_delay later; allow 10 s.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (stored_types(*store, "runs/c").empty() && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(own_types(*store, "runs/c") == std::vector<std::string>{"run_start"});
    log.emit("log", {{"level", "info"}, {"message", "later"}}, {.run_id = "c"}); // queued again
    while (own_types(*store, "runs/c").size() < 2 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(own_types(*store, "runs/c") == std::vector<std::string>{"run_start", "log"});
  }

  TEST_CASE("deferred: the queue is bounded, and a log that goes commits what it queued") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/d");
    std::size_t emitted = 0;
    {
      EventLog log(*store, "runs/d", {}, CommitPolicy::deferred);
      while (store->read("runs/d", -1).events.empty() && emitted <= k_max_deferred_events)
        log.emit("log", {{"level", "info"}, {"message", std::to_string(emitted++)}}, {.run_id = "d"});
      CHECK(emitted <= k_max_deferred_events); // the bound committed the queue, no flush()
      log.emit("log", {{"level", "info"}, {"message", "tail"}}, {.run_id = "d"});
      ++emitted;
    }
    const auto events = store->read("runs/d", -1, 1000).events;
    CHECK(own_types(*store, "runs/d").size() == emitted); // the tail went with the log
    REQUIRE(!events.empty());
    CHECK(events.back().data["message"] == "tail");
  }

  TEST_CASE("deferred: a failed commit throws from flush and shows nothing; the log goes on") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/e");
    std::vector<json> shown;
    EventLog log(*store, "runs/e", [&](const json& e) { shown.push_back(e); },
                 CommitPolicy::deferred);
    log.emit("run_start", json::object(), {.run_id = "e"});
    store->close_stream("runs/e");
    CHECK_THROWS_AS(log.flush(), hearth::Error);
    CHECK(shown.empty());
    CHECK(stored_types(*store, "runs/e").empty());
    log.flush(); // the failed events are gone: nothing left to commit
  }

  TEST_CASE("deferred: the flusher's failed commit is thrown by the log's next call") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/f");
    EventLog log(*store, "runs/f", {}, CommitPolicy::deferred);
    log.emit("run_start", json::object(), {.run_id = "f"});
    store->close_stream("runs/f");
    // emit() only queues; once the flusher's commit has failed, the next emit() throws it.
    bool thrown = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!thrown && std::chrono::steady_clock::now() < give_up) {
      try {
        log.emit("log", {{"level", "info"}, {"message", "x"}}, {.run_id = "f"});
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } catch (const hearth::Error& e) {
        thrown = true;
        CHECK(e.info().type == "stream_closed");
      }
    }
    CHECK(thrown);
    CHECK_NOTHROW(log.flush()); // reported once
  }
}

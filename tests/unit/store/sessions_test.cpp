// Contract tests for sessions (versions, continuation tokens) and submissions (store/sessions.cpp).
#include "contract.hpp"

#include "core/error.hpp"

using namespace hearth::store;

TEST_SUITE("store") {

STORE_CONTRACT("sessions save with optimistic versions and refuse stale writes") {
  Backend backend;
  auto store = backend.open();
  const SessionKey key{.agent = "triage", .instance_id = "t1"};
  CHECK(key.name == "default");
  CHECK_FALSE(store->load_session(key).has_value());

  const Json first = Json::array({{{"role", "user"}, {"content", "hi"}}});
  const auto v1 = store->save_session(key, first, 0);
  CHECK(v1.version == 1);
  CHECK(v1.messages == first);
  CHECK(v1.created_at.size() == 24);

  Json second = first;
  second.push_back({{"role", "assistant"}, {"content", "hello"}});
  const auto v2 = store->save_session(key, second, 1);
  CHECK(v2.version == 2);
  CHECK(store->load_session(key)->messages == second);

  try {
    store->save_session(key, first, 1); // someone else saved version 2 meanwhile
    FAIL("a stale save succeeded");
  } catch (const hearth::Error& e) {
    CHECK(e.info().type == "session_conflict");
    CHECK(e.info().http_status == 409);
    CHECK(e.info().message == "Session \"triage/t1/default\" was changed concurrently.");
  }
  CHECK_THROWS_AS(store->save_session({.agent = "triage", .instance_id = "t2"}, first, 3),
                  hearth::Error); // does not exist: only version 0 may create it
  CHECK(store->load_session(key)->version == 2);

  // Other names and instances are separate sessions.
  CHECK(store->save_session({.agent = "triage", .instance_id = "t1", .name = "side"}, first, 0)
            .version == 1);
  CHECK(store->delete_session(key));
  CHECK_FALSE(store->delete_session(key));
  CHECK_FALSE(store->load_session(key).has_value());
}

STORE_CONTRACT("save_session_after commits the turn's events with the history, or neither") {
  Backend backend;
  auto store = backend.open();
  const SessionKey key{.agent = "triage", .instance_id = "t1"};
  const std::string path = "agents/triage/t1";
  store->create_stream(path);
  store->append(path, {.type = "operation_start"});
  const Json history = Json::array({{{"role", "user"}, {"content", "hi"}}});
  const std::vector<NewEvent> turn = {{.type = "turn"}, {.type = "trace"}};

  const auto first = store->save_session_after(key, path, turn, history, 0, Json(),
                                               {{"id", "u1"}, {"kind", "user"}});
  CHECK(first.version == 1);
  CHECK(first.first_seq == 1);
  CHECK(store->load_session(key)->messages == history);
  CHECK(store->read(path, -1).events.size() == 3);
  // Nothing queued: the history alone, and the stream's next seq.
  const auto second = store->save_session_after(key, path, {}, history, 1, {{"turnId", "t"}});
  CHECK(second.version == 2);
  CHECK(second.first_seq == 3);
  CHECK(store->load_session(key)->parked["turnId"] == "t");

  // A stale version: neither the history nor the events.
  try {
    store->save_session_after(key, path, turn, Json::array(), 1, Json());
    FAIL("a stale save succeeded");
  } catch (const hearth::Error& e) {
    CHECK(e.info().type == "session_conflict");
  }
  CHECK(store->load_session(key)->version == 2);
  CHECK(store->load_session(key)->messages == history);
  CHECK(store->read(path, -1).events.size() == 3);
  // A closed stream: neither either.
  store->close_stream(path);
  CHECK_THROWS_AS(store->save_session_after(key, path, turn, Json::array(), 2, Json()),
                  hearth::Error);
  CHECK(store->load_session(key)->version == 2);
}

STORE_CONTRACT("continuation tokens rotate and only the current one checks") {
  Backend backend;
  auto store = backend.open();
  const SessionKey key{.agent = "eve", .instance_id = "s1"};
  CHECK_THROWS_AS(store->rotate_continuation_token(key), hearth::Error);
  store->save_session(key, Json::array(), 0);
  CHECK_FALSE(store->check_continuation_token(key, ""));
  const auto first = store->rotate_continuation_token(key);
  CHECK(first.size() == 35);
  CHECK(store->check_continuation_token(key, first));
  const auto second = store->rotate_continuation_token(key);
  CHECK(second != first);
  CHECK_FALSE(store->check_continuation_token(key, first));
  CHECK(store->check_continuation_token(key, second));
  CHECK_FALSE(store->check_continuation_token({.agent = "eve", .instance_id = "s2"}, second));
  CHECK(store->load_session(key)->version == 1); // tokens do not move the history version
}

STORE_CONTRACT("submissions are created once and move through their statuses") {
  Backend backend;
  auto store = backend.open();
  const auto sub = store->create_submission("sub_1", "agents/triage/t1");
  CHECK(sub.status == SubmissionStatus::queued);
  CHECK(sub.stream_path == "agents/triage/t1");
  CHECK(store->create_submission("sub_1", "agents/other/x").stream_path == "agents/triage/t1");
  store->set_submission_status("sub_1", SubmissionStatus::running);
  CHECK(store->get_submission("sub_1")->status == SubmissionStatus::running);
  store->set_submission_status("sub_1", SubmissionStatus::done);
  CHECK(to_string(store->get_submission("sub_1")->status) == "done");
  CHECK_FALSE(store->get_submission("sub_2").has_value());
  CHECK_THROWS_WITH_AS(store->set_submission_status("sub_2", SubmissionStatus::errored),
                       "Submission \"sub_2\" was not found.", hearth::Error);
}

} // TEST_SUITE

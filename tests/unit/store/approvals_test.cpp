// Contract tests for approvals and parked sessions (store/approvals.cpp, issue 12 §2).
#include "contract.hpp"

#include "core/error.hpp"

using namespace hearth::store;

TEST_SUITE("store") {

STORE_CONTRACT("approvals are created pending, decided once, listed by owner and session") {
  Backend backend;
  auto store = backend.open();
  store->create_approval({.approval_id = "apr_1", .owner = "agents/a/i1", .session = "default",
                          .tool_name = "deploy", .tool_call_id = "call_1",
                          .request = {{"args", {{"env", "prod"}}}}});
  store->create_approval({.approval_id = "ask_2", .owner = "agents/a/i1", .session = "default",
                          .kind = "question", .tool_name = "ask_question", .tool_call_id = "call_2"});
  store->create_approval({.approval_id = "apr_3", .owner = "runs/run_x", .tool_name = "deploy",
                          .tool_call_id = "call_3"});
  const auto first = store->get_approval("apr_1");
  REQUIRE(first.has_value());
  CHECK(first->status == "pending");
  CHECK(first->request["args"]["env"] == "prod");
  CHECK(first->decision.is_null());
  CHECK(first->decided_at.empty());
  CHECK(store->list_approvals("agents/a/i1", "default", true).size() == 2);
  CHECK(store->list_approvals("runs/run_x", "", true).size() == 1);

  CHECK(store->decide_approval("apr_1", "approved", {{"decision", "approve"}}));
  CHECK_FALSE(store->decide_approval("apr_1", "denied", {{"decision", "deny"}})); // final
  const auto decided = store->get_approval("apr_1");
  CHECK(decided->status == "approved");
  CHECK(decided->decision["decision"] == "approve");
  CHECK_FALSE(decided->decided_at.empty());
  const auto pending = store->list_approvals("agents/a/i1", "default", true);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].approval_id == "ask_2");
  CHECK(pending[0].kind == "question");
  CHECK(store->list_approvals("agents/a/i1", "", false).size() == 2);
  CHECK_THROWS_AS(store->decide_approval("nope", "approved", Json::object()), hearth::Error);
  CHECK_FALSE(store->get_approval("nope").has_value());
}

STORE_CONTRACT("a session keeps its parked turn until the next save clears it") {
  Backend backend;
  auto store = backend.open();
  const SessionKey key{.agent = "a", .instance_id = "i1"};
  const Json parked = {{"calls", Json::array({{{"toolCallId", "c1"}, {"state", "pending"}}})}};
  store->save_session(key, Json::array(), 0, parked);
  CHECK(store->load_session(key)->parked == parked);
  store->save_session(key, Json::array(), 1);
  CHECK(store->load_session(key)->parked.is_null());
}

STORE_CONTRACT("connection credentials are stored, replaced, read by key and forgotten") {
  Backend backend;
  auto store = backend.open();
  CHECK_FALSE(store->get_credential("a\nfx\nhttps://x/mcp").has_value());
  store->put_credential("a\nfx\nhttps://x/mcp", "v1:secret-one");
  store->put_credential("a\nother\nhttps://y/mcp", "v1:secret-two");
  CHECK(store->get_credential("a\nfx\nhttps://x/mcp") == std::optional<std::string>("v1:secret-one"));
  store->put_credential("a\nfx\nhttps://x/mcp", "v1:refreshed"); // a refresh replaces it
  CHECK(store->get_credential("a\nfx\nhttps://x/mcp") == std::optional<std::string>("v1:refreshed"));
  if constexpr (Backend::shared) { // another process (a replica) reads what this one stored
    auto other = backend.open();
    CHECK(other->get_credential("a\nfx\nhttps://x/mcp") == std::optional<std::string>("v1:refreshed"));
  }
  CHECK(store->delete_credential("a\nfx\nhttps://x/mcp")); // evicted after a 401
  CHECK_FALSE(store->delete_credential("a\nfx\nhttps://x/mcp"));
  CHECK_FALSE(store->get_credential("a\nfx\nhttps://x/mcp").has_value());
  CHECK(store->get_credential("a\nother\nhttps://y/mcp") == std::optional<std::string>("v1:secret-two"));
}

} // TEST_SUITE

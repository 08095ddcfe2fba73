// Conversation compaction (issue 16 §1): the view a model sees, the plan, bounded summary
// requests, and sessions driven past their threshold on mock/echo.
#include "core/error.hpp"
#include "runtime/compaction.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"

#include <doctest/doctest.h>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

json user(const std::string& text) {
  return {{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", text}}})}};
}
json assistant(const std::string& text) {
  return {{"role", "assistant"}, {"content", json::array({{{"type", "text"}, {"text", text}}})}};
}

std::string text_of(const json& m) { return m["content"][0]["text"].get<std::string>(); }

} // namespace

TEST_SUITE("compaction") {
  TEST_CASE("settings read the manifest's compaction, clamped, with Eve's defaults") {
    const auto d = compaction_settings(json());
    CHECK(d.enabled);
    CHECK(d.threshold_percent == doctest::Approx(0.9));
    CHECK_FALSE(compaction_settings(json(false)).enabled);
    const auto s = compaction_settings({{"thresholdPercent", 0.05}, {"keepRecentTurns", 5000},
                                        {"contextWindowTokens", 2000}, {"model", "mock/echo"},
                                        {"pinFirstMessage", true}});
    CHECK(s.threshold_percent == doctest::Approx(0.05));
    CHECK(s.keep_recent_turns == 1000);
    CHECK(s.context_window_tokens == 2000);
    CHECK(s.model == "mock/echo");
    CHECK(s.pin_first_message);
  }

  TEST_CASE("the model table gives known windows; the mock's comes from HEARTH_MOCK_CONTEXT_WINDOW") {
    const hearth::providers::EnvLookup none = [](std::string_view) { return std::nullopt; };
    CHECK(context_window({"anthropic", "claude-sonnet-4-5"}, none) == 200'000);
    CHECK(context_window({"openai", "gpt-5-mini"}, none) == 400'000);
    CHECK(context_window({"gateway", "openai/gpt-4.1"}, none) == 1'047'576);
    CHECK(context_window({"ollama", "llama3"}, none) == 128'000);
    CHECK(context_window({"mock", "echo"}, none) == 128'000);
    const hearth::providers::EnvLookup small = [](std::string_view name) -> std::optional<std::string> {
      if (name == "HEARTH_MOCK_CONTEXT_WINDOW") return "3000";
      return std::nullopt;
    };
    CHECK(context_window({"mock", "echo"}, small) == 3000);
    const hearth::providers::EnvLookup bad = [](std::string_view) -> std::optional<std::string> {
      return "12abc";
    };
    CHECK(context_window({"mock", "echo"}, bad) == 128'000);
  }

  TEST_CASE("a plan keeps the newest turns and pinned messages, and the view is checkpoint + tail") {
    json h = json::array({user("first ask"), assistant("a1"), user("second"), assistant("a2"),
                          user("third"), assistant("a3")});
    CompactionSettings s{.keep_recent_turns = 1, .pin_first_message = true};
    const auto plan = plan_compaction(h, s);
    REQUIRE(plan.worth_it);
    CHECK(plan.from == 0);
    CHECK(plan.first_kept == 4);
    CHECK(plan.pinned == std::vector<std::size_t>{0});
    h.push_back(checkpoint_entry("they asked three things", plan, 1234, 10'000));
    const auto view = model_view(h);
    REQUIRE(view.size() == 4); // pinned first ask, the summary, the kept turn
    CHECK(text_of(view[0]) == "first ask");
    CHECK(text_of(view[1]).find("they asked three things") != std::string::npos);
    CHECK(text_of(view[2]) == "third");
    CHECK(text_of(view[3]) == "a3");
    // The full history is still there: nothing was removed.
    CHECK(h.size() == 7);
    // A second compaction starts where the first kept, and carries its summary along.
    h.push_back(user("fourth"));
    h.push_back(assistant("a4"));
    const auto again = plan_compaction(h, s);
    REQUIRE(again.worth_it);
    CHECK(again.from == 4);
    CHECK(again.first_kept == 7);
    CHECK(again.previous_summary == "they asked three things");
    // A clear hides everything before it.
    h.push_back(cleared_entry());
    CHECK(model_view(h).empty());
    h.push_back(user("fresh"));
    REQUIRE(model_view(h).size() == 1);
  }

  TEST_CASE("the turn in progress is never summarised; between turns keepRecentTurns 0 takes all") {
    const json h = json::array({user("only"), assistant("answer")});
    CHECK_FALSE(plan_compaction(h, {.keep_recent_turns = 0}).worth_it);
    const auto manual = plan_compaction(h, {.keep_recent_turns = 0}, false);
    REQUIRE(manual.worth_it);
    CHECK(manual.first_kept == 2);
  }

  TEST_CASE("summary requests and summaries are bounded whatever the history's size") {
    json h = json::array();
    for (int i = 0; i < 40; ++i) {
      h.push_back(user(std::string(300'000, 'u')));
      h.push_back(assistant(std::string(300'000, 'a')));
    }
    h.push_back(user("now"));
    const auto plan = plan_compaction(h, {.keep_recent_turns = 1});
    REQUIRE(plan.worth_it);
    const auto request = summary_request(h, plan, "echo", 1u << 30);
    REQUIRE(request.messages.size() == 1);
    CHECK(request.messages[0].text.size() <= k_max_transcript_chars + 4096);
    const auto small = summary_request(h, plan, "echo", 8000);
    CHECK(small.messages[0].text.size() <= 8000 + 4096);
    const auto entry = checkpoint_entry(std::string(10'000'000, 's'), plan, 1, 1u << 30);
    CHECK(entry["summary"].get<std::string>().size() <= k_max_summary_chars + 128);
  }

  TEST_CASE("bound_request keeps the newest text whole and cuts what does not fit") {
    std::vector<hearth::providers::Message> m = {hearth::providers::user_message(std::string(5000, 'o')),
                                                 hearth::providers::user_message(std::string(900, 'n'))};
    bound_request(m, 1000);
    CHECK(m[1].text.size() == 900);
    CHECK(m[0].text.size() < 400);
    CHECK(m[0].text.find("not sent") != std::string::npos);
  }

  TEST_CASE("a session past its threshold compacts, commits the checkpoint, and goes on bounded") {
    TempProject project;
    auto store = hearth::store::open_store("memory:");
    // mock/echo answers each message with itself: every turn adds 2 x 6000 characters.
    AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                   .compaction = {{"thresholdPercent", 0.5}, {"contextWindowTokens", 8000},
                                  {"keepRecentTurns", 1}}};
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = project.root()}, *store);
    std::vector<json> events;
    const auto listener = [&](const json& e) { events.push_back(e); };
    for (char c : {'x', 'y', 'z'})
      rt.prompt_agent("assistant", "s1", "default", std::string(6000, c), json(), "", listener);
    std::vector<json> started, done, requests;
    for (const auto& e : events) {
      if (e["type"] == "compaction_start") started.push_back(e);
      if (e["type"] == "compaction") done.push_back(e);
      if (e["type"] == "turn_request") requests.push_back(e);
    }
    REQUIRE(started.size() >= 1);
    REQUIRE(done.size() == started.size());
    CHECK(started[0]["reason"] == "threshold");
    CHECK(started[0]["estimatedTokens"].get<long long>() > 4000);
    CHECK(done[0]["compacted"] == true);
    CHECK(done[0]["messagesAfter"].get<long long>() < done[0]["messagesBefore"].get<long long>());
    // Every request stays within the window; the last turn's echo is the conversation going on.
    for (const auto& r : requests) CHECK(r["input"]["estimatedTokens"].get<long long>() <= 8000);
    const auto saved = store->load_session({.agent = "assistant", .instance_id = "s1", .name = "default"});
    REQUIRE(saved);
    int checkpoints = 0, users = 0;
    for (const auto& m : saved->messages) {
      checkpoints += m["role"] == k_compaction_role;
      users += m["role"] == "user";
    }
    CHECK(checkpoints == static_cast<int>(started.size()));
    CHECK(users == 3); // the full history stays in the store
    CHECK(text_of(saved->messages.back()) == std::string(6000, 'z'));
  }

  TEST_CASE("compact_session and clear: manual compaction, then a clear marker, both stored") {
    TempProject project;
    auto store = hearth::store::open_store("memory:");
    AgentDef agent{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                   .compaction = {{"keepRecentTurns", 0}}};
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = project.root()}, *store);
    std::vector<std::string> types;
    const auto listener = [&](const json& e) {
      if (e["type"] != "trace") types.push_back(e["type"]);
    };
    CHECK_THROWS_AS(rt.compact_session("assistant", "s2", "default", false, listener),
                    hearth::Error); // no such session
    rt.prompt_agent("assistant", "s2", "default", "hello", json(), "", {});
    const auto out = rt.compact_session("assistant", "s2", "default", false, listener);
    CHECK(out["status"] == "compacted");
    CHECK(types == std::vector<std::string>{"compaction_start", "compaction", "idle"});
    types.clear();
    CHECK(rt.compact_session("assistant", "s2", "default", true, listener)["status"] == "cleared");
    CHECK(types == std::vector<std::string>{"context_cleared", "idle"});
    const auto saved = store->load_session({.agent = "assistant", .instance_id = "s2", .name = "default"});
    REQUIRE(saved);
    CHECK(saved->messages[saved->messages.size() - 2]["role"] == k_compaction_role);
    CHECK(saved->messages.back()["role"] == k_cleared_role);
    CHECK(model_view(saved->messages).empty());
    // The conversation goes on after a clear.
    const auto answer = rt.prompt_agent("assistant", "s2", "default", "again", json(), "", {});
    CHECK(answer["text"] == "again");
  }

  TEST_CASE("a compaction inside a resumed turn commits its checkpoint before the turn ends") {
    TempProject project;
    auto store = hearth::store::open_store("memory:");
    project.write("agent/mock.jsonl", "{\"text\":\"hi\"}\n{\"toolCalls\":[{\"name\":\"ship\",\"input\":{}}]}\n"
                                      "{\"text\":\"done\"}\n");
    // The approved tool's result pushes the resumed turn past its threshold (16000 characters).
    project.write("agent/tools/ship.sh", "#!/bin/sh\nprintf '\"%06000d\"' 0\n", true);
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "Ship.",
                   .compaction = {{"thresholdPercent", 0.5}, {"contextWindowTokens", 8000},
                                  {"keepRecentTurns", 1}, {"model", "mock/echo"}},
                   .mock_script = project.root() / "agent/mock.jsonl"};
    agent.tools.push_back({.name = "ship", .description = "Ships.",
                           .command = {(project.root() / "agent/tools/ship.sh").string()},
                           .cwd = project.root(), .approval = "always"});
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = project.root()}, *store);
    const hearth::store::SessionKey key{.agent = "assistant", .instance_id = "s1", .name = "default"};
    rt.prompt_agent("assistant", "s1", "default", std::string(12'000, 'x'), json(), "", {});
    const auto parked = rt.prompt_agent("assistant", "s1", "default", "go", json(), "", {});
    REQUIRE(parked["status"] == "waiting");
    rt.answer_input("agents/assistant/s1",
                    {.request_id = parked["requests"][0]["approvalId"].get<std::string>(),
                     .decision = "approve"});
    int compactions = 0, stored_at_compaction = -1;
    bool parked_at_compaction = false;
    const auto listener = [&](const json& e) {
      if (e["type"] != "compaction" || e.value("compacted", false) != true) return;
      ++compactions;
      stored_at_compaction = 0; // what the store holds when compaction.completed is said
      const auto stored = store->load_session(key);
      for (const auto& m : stored->messages) stored_at_compaction += m["role"] == k_compaction_role;
      parked_at_compaction = !stored->parked.is_null();
    };
    const auto done = rt.resume_session("assistant", "s1", "default", listener);
    CHECK(done["text"] == "done");
    REQUIRE(compactions == 1);
    CHECK(stored_at_compaction == 1); // before: 0, saved only when the turn ended
    CHECK(parked_at_compaction); // mid-turn the session is still the parked turn's (before: null)
    CHECK(store->load_session(key)->parked.is_null()); // and no longer once it ended
  }

  TEST_CASE("pinFirstMessage pins the first message after the newest clear, never one before it") {
    const json h = json::array({user("before clear"), assistant("a0"), cleared_entry(),
                                user("first after"), assistant("a1"), user("second"),
                                assistant("a2"), user("third"), assistant("a3")});
    const auto plan = plan_compaction(h, {.keep_recent_turns = 1, .pin_first_message = true});
    REQUIRE(plan.worth_it);
    CHECK(plan.from == 3);
    CHECK(plan.pinned == std::vector<std::size_t>{3}); // before: {0}, from before the clear
  }

  TEST_CASE("a structured-output reminder is not a turn for keepRecentTurns") {
    json reminder = user("You must call the `finish` tool");
    reminder["reminder"] = true;
    const json h = json::array({user("zero"), assistant("a0"), user("ask"), assistant("a1"),
                                reminder, assistant("a2"), user("two"), assistant("a3")});
    const auto plan = plan_compaction(h, {.keep_recent_turns = 2});
    REQUIRE(plan.worth_it);
    CHECK(plan.first_kept == 2); // before: 4, the reminder counted as the older kept turn
    const json only = json::array({user("ask"), assistant("a1"), reminder, assistant("a2"),
                                   user("two"), assistant("a3")});
    CHECK_FALSE(plan_compaction(only, {.keep_recent_turns = 2}).worth_it);
  }

  TEST_CASE("bound_request drops the oldest messages past the budget, never a call's result alone") {
    using hearth::providers::Message;
    std::vector<Message> m;
    m.push_back(hearth::providers::user_message("pinned ask"));
    for (int i = 0; i < 10; ++i) {
      m.push_back(hearth::providers::assistant_message(
          "", {{.id = "c" + std::to_string(i), .name = "write_file",
                .arguments = "{\"content\":\"" + std::string(900, 'w') + "\"}"}}));
      m.push_back(hearth::providers::tool_result("c" + std::to_string(i), std::string(900, 'r')));
    }
    m.push_back(hearth::providers::user_message(std::string(700, 'q')));
    const auto dropped = bound_request(m, 5000, 1);
    std::size_t total = 0;
    for (const auto& x : m) {
      total += x.text.size();
      for (const auto& c : x.tool_calls) total += c.arguments.size();
    }
    CHECK(total <= 5000 + 1024); // before: nothing dropped, ~18700 characters
    CHECK(dropped.from == 1);
    CHECK(dropped.count > 0);
    CHECK(m[0].text == "pinned ask");
    CHECK(m[1].text.find("older messages not sent") != std::string::npos);
    CHECK(m[2].role != hearth::providers::Role::tool); // the first kept is not an orphan result
    CHECK(m.back().text == std::string(700, 'q'));
  }

  TEST_CASE("bound_request keeps the call of a huge newest tool result, and its whole group") {
    using hearth::providers::Message;
    using hearth::providers::Role;
    std::vector<Message> m;
    m.push_back(hearth::providers::user_message("pinned ask"));
    m.push_back(hearth::providers::assistant_message("", {{.id = "c0", .name = "read", .arguments = "{}"}}));
    m.push_back(hearth::providers::tool_result("c0", std::string(900, 'r')));
    m.push_back(hearth::providers::user_message(std::string(900, 'q')));
    m.push_back(hearth::providers::assistant_message(
        "", {{.id = "a", .name = "write_file", .arguments = "{\"content\":\"" + std::string(4000, 'w') + "\"}"},
             {.id = "b", .name = "read", .arguments = "{}"},
             {.id = "c", .name = "read", .arguments = "{}"}}));
    m.push_back(hearth::providers::tool_result("a", std::string(3000, 'a')));
    m.push_back(hearth::providers::tool_result("b", std::string(3000, 'b')));
    m.push_back(hearth::providers::tool_result("c", std::string(100'000, 'c'))); // fills the budget
    bound_request(m, 5000, 1);
    REQUIRE(m.size() == 6); // pinned, the notice, the owning call and its three results
    CHECK(m[0].text == "pinned ask");
    CHECK(m[1].text.find("older messages not sent") != std::string::npos);
    REQUIRE(m[2].role == Role::assistant); // before: the kept range was the result "c" alone
    REQUIRE(m[2].tool_calls.size() == 3);
    CHECK(m[2].tool_calls[0].arguments.find("_hearth_truncated") != std::string::npos);
    for (std::size_t i = 3; i < 6; ++i) CHECK(m[i].role == Role::tool);
    CHECK(m[3].tool_call_id == "a");
    CHECK(m[3].text.size() < 512); // the group's older results cut to ~256 characters
    CHECK(m[4].text.size() < 512);
    CHECK(m[5].tool_call_id == "c");
    std::size_t total = 0;
    for (const auto& x : m) {
      total += x.text.size();
      for (const auto& c : x.tool_calls) total += c.arguments.size();
    }
    CHECK(total <= 5000 + 2048);
  }

  TEST_CASE("a huge tool-call argument never makes the next model request exceed the window") {
    TempProject project;
    auto store = hearth::store::open_store("memory:");
    // The model writes 200 KB in one call (write_file-style); the window is 8000 tokens.
    project.write("agent/mock.jsonl", "{\"toolCalls\":[{\"name\":\"ship\",\"input\":{\"content\":\"" +
                                          std::string(200'000, 'x') + "\"}}]}\n{\"text\":\"done\"}\n");
    project.write("agent/tools/ship.sh", "#!/bin/sh\ncat >/dev/null\necho '\"ok\"'\n", true);
    AgentDef agent{.name = "assistant", .model = "mock/script", .instructions = "Ship.",
                   .compaction = {{"thresholdPercent", 0.5}, {"contextWindowTokens", 8000}},
                   .mock_script = project.root() / "agent/mock.jsonl"};
    agent.tools.push_back({.name = "ship", .description = "Ships.",
                           .command = {(project.root() / "agent/tools/ship.sh").string()},
                           .cwd = project.root()});
    Runtime rt(Program{.root_agent = "assistant", .agents = {agent}},
               RuntimeContext{.project_root = project.root()}, *store);
    std::vector<long long> sizes; // what the mock model received, as it counts it
    const auto listener = [&](const json& e) {
      if (e["type"] == "usage") sizes.push_back(e["inputTokens"].get<long long>());
    };
    const auto out = rt.prompt_agent("assistant", "s1", "default", "go", json(), "", listener);
    CHECK(out["text"] == "done");
    REQUIRE(sizes.size() == 2);
    CHECK(sizes[1] <= 8000); // before: ~50000 tokens, the arguments sent whole
    // The stored history keeps the arguments whole.
    const auto saved = store->load_session({.agent = "assistant", .instance_id = "s1", .name = "default"});
    REQUIRE(saved);
    CHECK(saved->messages.dump().find(std::string(200'000, 'x')) != std::string::npos);
  }
}

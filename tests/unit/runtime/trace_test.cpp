// TraceEvent derivation (tree integrity), W3C traceparent parsing and formatting, the OTLP body.
#include "runtime/events.hpp"
#include "runtime/telemetry.hpp"
#include "runtime/trace.hpp"
#include "store/store.hpp"

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace hearth::runtime;
using nlohmann::json;

namespace {

/// Every parentId names a spanId emitted earlier in the same trace; every start has one end.
void check_tree(const std::vector<json>& traces, bool single_root = true) {
  REQUIRE(!traces.empty());
  std::set<std::string> spans;
  std::map<std::string, int> starts, ends;
  int roots = 0;
  const auto trace_id = traces.front()["trace"]["id"].get<std::string>();
  for (const auto& t : traces) {
    CHECK(t["trace"]["id"] == trace_id);
    const auto span = t["attributes"]["spanId"].get<std::string>();
    CHECK(span.size() == 16);
    const auto phase = t["attributes"]["phase"].get<std::string>();
    if (phase == "start" || phase == "event") spans.insert(span);
    if (phase == "start") ++starts[span];
    if (phase == "end") {
      ++ends[span];
      CHECK(spans.count(span) == 1); // ends follow their start
    }
    if (!t["trace"].contains("parentId")) {
      ++roots;
      continue;
    }
    CHECK_MESSAGE(spans.count(t["trace"]["parentId"].get<std::string>()) == 1, t.dump());
    const std::set<std::string> types = {"approval", "capability", "error", "lifecycle", "policy", "run"};
    CHECK(types.count(t["type"].get<std::string>()) == 1);
  }
  if (single_root) CHECK(roots <= 2); // the root's start and end
  CHECK(starts == ends);
}

} // namespace

TEST_SUITE("trace") {
  TEST_CASE("traceparent: valid headers parse and format back; garbage is refused") {
    const std::string header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const auto parsed = parse_traceparent(header);
    REQUIRE(parsed);
    CHECK(parsed->trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(parsed->span_id == "00f067aa0ba902b7");
    CHECK(parsed->sampled);
    CHECK(format_traceparent(*parsed) == header);
    CHECK(!parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
    // A future version may append fields after a dash.
    CHECK(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"));
    for (const char* bad : {"", "garbage", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
                            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"})
      CHECK_MESSAGE(!parse_traceparent(bad), bad);
    CHECK(new_trace_id().size() == 32);
    CHECK(new_span_id().size() == 16);
    CHECK(new_span_id() != new_span_id());
  }

  TEST_CASE("a run with steps, tools, a subagent, policy and approvals forms one tree") {
    Tracer tracer;
    std::vector<json> out;
    auto feed = [&](const std::string& type, json data) {
      for (auto& t : tracer.observe(type, data)) out.push_back(std::move(t));
    };
    const json base = {{"runId", "run_1"}, {"harness", "default"}, {"session", "default"},
                       {"operationId", "op_1"}};
    auto with = [&](json extra) {
      json d = base;
      d.update(extra);
      return d;
    };
    feed("run_start", {{"runId", "run_1"}, {"workflowName", "hello"}});
    feed("operation_start", with({{"operationKind", "prompt"}}));
    feed("agent_start", base);
    feed("turn_start", with({{"turnId", "turn_1"}}));
    feed("text_delta", with({{"turnId", "turn_1"}, {"text", "hi"}}));
    feed("tool_start", with({{"turnId", "turn_1"}, {"toolName", "researcher"}, {"toolCallId", "c1"}}));
    feed("tool_start", with({{"turnId", "turn_1"}, {"toolName", "bash"}, {"toolCallId", "c2"}}));
    const auto tp = tracer.traceparent_for("c2", "turn_1", "op_1");
    CHECK(parse_traceparent(tp));
    feed("policy_decision", with({{"turnId", "turn_1"}, {"toolCallId", "c2"}, {"decision", "require-approval"}}));
    feed("approval_request", with({{"turnId", "turn_1"}, {"toolCallId", "c2"}, {"approvalId", "ap_1"}}));
    feed("approval_decision", with({{"approvalId", "ap_1"}, {"decision", "approve"}}));
    feed("task_start", with({{"taskId", "task_1"}, {"agent", "researcher"}}));
    const json sub = with({{"session", "default/researcher/task_1"}, {"parentSession", "default"},
                           {"taskId", "task_1"}});
    feed("agent_start", sub);
    json sub_turn = sub;
    sub_turn["turnId"] = "turn_2";
    feed("turn_start", sub_turn);
    feed("turn", sub_turn);
    feed("agent_end", sub);
    feed("task", with({{"taskId", "task_1"}, {"isError", false}}));
    feed("tool_call", with({{"turnId", "turn_1"}, {"toolCallId", "c1"}, {"isError", false}}));
    feed("tool_call", with({{"turnId", "turn_1"}, {"toolCallId", "c2"}, {"isError", true}}));
    feed("turn", with({{"turnId", "turn_1"}}));
    feed("error", with({{"error", {{"type", "hook_failed"}, {"message", "x"}}}, {"source", "hook"}}));
    feed("agent_end", base);
    feed("operation", with({{"isError", false}}));
    for (auto& t : tracer.finish(nullptr)) out.push_back(std::move(t));
    check_tree(out);
    // The subagent's turn hangs below the researcher tool call, through the task.
    std::map<std::string, json> by_span;
    for (const auto& t : out) by_span.emplace(t["attributes"]["spanId"].get<std::string>(), t);
    const auto sub_start = std::find_if(out.begin(), out.end(), [](const json& t) {
      return t["name"] == "turn" && t["attributes"].value("taskId", "") == "task_1";
    });
    REQUIRE(sub_start != out.end());
    const auto task = by_span.at((*sub_start)["trace"]["parentId"]);
    CHECK(task["name"] == "subagent");
    const auto tool = by_span.at(task["trace"]["parentId"]);
    CHECK(tool["attributes"]["toolName"] == "researcher");
    const auto decision = std::find_if(out.begin(), out.end(),
                                       [](const json& t) { return t["type"] == "approval" &&
                                                                  t["name"] == "approval.decision"; });
    REQUIRE(decision != out.end());
    CHECK(by_span.at((*decision)["trace"]["parentId"])["name"] == "approval.request");
    CHECK(trace_duration(out.back()).has_value());
  }

  TEST_CASE("a failing run still closes every span, and finish names the error") {
    Tracer tracer;
    std::vector<json> out;
    for (const auto& [type, data] : std::vector<std::pair<std::string, json>>{
             {"run_start", {{"runId", "r"}}},
             {"operation_start", {{"operationId", "op"}}},
             {"agent_start", {{"operationId", "op"}, {"session", "s"}}},
             {"turn_start", {{"operationId", "op"}, {"session", "s"}, {"turnId", "t"}}}})
      for (auto& t : tracer.observe(type, data)) out.push_back(std::move(t));
    for (auto& t : tracer.finish({{"type", "model_error"}, {"message", "boom"}}))
      out.push_back(std::move(t));
    check_tree(out);
    CHECK(std::count_if(out.begin(), out.end(), [](const json& t) { return t["type"] == "error"; }) == 1);
    CHECK(out.back()["attributes"]["status"] == "error");
    CHECK(out.back()["name"] == "run");
  }

  TEST_CASE("an incoming traceparent is continued: same trace id, the root's parent is the caller") {
    const auto parent = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    Tracer tracer(parent);
    const auto out = tracer.observe("run_start", {{"runId", "r"}});
    REQUIRE(out.size() == 1);
    CHECK(out[0]["trace"]["id"] == "4bf92f3577b34da6a3ce929d0e0e4736");
    CHECK(out[0]["trace"]["parentId"] == "00f067aa0ba902b7");
  }

  TEST_CASE("EventLog stores derived TraceEvents as trace events of the same stream") {
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/run_x");
    std::vector<json> seen, sunk;
    EventLog log(*store, "runs/run_x", [&](const json& e) { seen.push_back(e); });
    log.set_trace_sink([&](const json& t) { sunk.push_back(t); });
    log.emit("run_start", {{"workflowName", "w"}}, {.run_id = "run_x"});
    log.emit("log", {{"level", "info"}, {"message", "hi"}}, {.run_id = "run_x"});
    CHECK(!log.traceparent().empty());
    log.finish_trace(nullptr);
    const auto page = store->read("runs/run_x", -1);
    std::vector<std::string> types;
    for (const auto& e : page.events) types.push_back(e.type);
    CHECK(types == std::vector<std::string>{"run_start", "trace", "log", "trace"});
    CHECK(page.events[1].data["traceEvent"]["attributes"]["phase"] == "start");
    CHECK(page.events[1].data["runId"] == "run_x");
    CHECK(seen.size() == 4);
    CHECK(sunk.size() == 2);
    check_tree(sunk);
  }

  TEST_CASE("an event and the TraceEvents it derives are committed together, before it is shown") {
    // One transaction per emit (issue 17 §3): when the listener sees run_start, its TraceEvent
    // is in the store already; one commit per event and per TraceEvent stored it only after.
    auto store = hearth::store::open_store("memory:");
    store->create_stream("runs/run_y");
    std::vector<std::size_t> stored_when_shown;
    json shown;
    EventLog log(*store, "runs/run_y", [&](const json& e) {
      if (e["type"] != "run_start") return;
      shown = e;
      stored_when_shown.push_back(store->read("runs/run_y", -1).events.size());
    });
    log.emit("run_start", {{"workflowName", "w"}}, {.run_id = "run_y"});
    CHECK(shown["eventIndex"] == 0);
    CHECK(stored_when_shown == std::vector<std::size_t>{2});
    const auto page = store->read("runs/run_y", -1);
    REQUIRE(page.events.size() == 2);
    CHECK(page.events[1].type == "trace");
    CHECK(page.events[1].data["runId"] == "run_y");
  }

  TEST_CASE("the OTLP body carries complete spans with ids, parents, times and status") {
    Tracer tracer;
    std::vector<json> out;
    for (auto& t : tracer.observe("run_start", {{"runId", "r"}})) out.push_back(t);
    for (auto& t : tracer.observe("operation_start", {{"operationId", "op"}})) out.push_back(t);
    for (auto& t : tracer.finish(nullptr)) out.push_back(t);
    const auto body = otlp_request(out, "svc");
    const auto& spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"];
    REQUIRE(spans.size() == 2); // the two ends; starts are not exported
    CHECK(spans[0]["name"] == "operation");
    CHECK(spans[0]["parentSpanId"] == spans[1]["spanId"]);
    CHECK(!spans[1].contains("parentSpanId"));
    CHECK(spans[0]["traceId"].get<std::string>().size() == 32);
    CHECK(spans[0]["status"]["code"] == 1);
    CHECK(std::stoll(spans[1]["endTimeUnixNano"].get<std::string>()) >=
          std::stoll(spans[1]["startTimeUnixNano"].get<std::string>()));
    CHECK(body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"] == "svc");
  }

  TEST_CASE("the trace tree renders nested spans indented, with durations") {
    Tracer tracer;
    std::vector<json> out;
    for (auto& t : tracer.observe("run_start", {{"runId", "r"}, {"workflowName", "w"}})) out.push_back(t);
    for (auto& t : tracer.observe("operation_start", {{"operationId", "op"}, {"operationKind", "prompt"}}))
      out.push_back(t);
    for (auto& t : tracer.finish(nullptr)) out.push_back(t);
    const auto tree = render_trace_tree(out);
    CHECK(tree.rfind("run  [run]", 0) == 0);
    CHECK(tree.find("\n  operation  [lifecycle]") != std::string::npos);
    CHECK(tree.find(" ms") != std::string::npos);
    CHECK(parse_iso_ms("2026-11-21T01:47:00.205Z") == 1795225620205LL);
    CHECK(!parse_iso_ms("yesterday"));
  }
}

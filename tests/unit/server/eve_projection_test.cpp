// The Eve projection of agent-stream events (server/eve_projection.hpp), event by event.
#include "server/eve_projection.hpp"

#include <doctest/doctest.h>

using nlohmann::json;

TEST_SUITE("server") {
  TEST_CASE("a cancelled operation projects as turn.cancelled then session.waiting") {
    hearth::server::EveProjector projector("agents/a/wrun_1", "a", "wrun_1");
    const std::vector<std::pair<std::string, json>> stream = {
        {hearth::server::k_submission_event, {{"submissionId", "d1"}, {"message", "go"}}},
        {"operation_start", {{"operationKind", "prompt"}}},
        {"turn_request", {{"provider", "mock"}, {"model", "script"}}},
        {"operation",
         {{"operationKind", "prompt"}, {"isError", true},
          {"error", {{"type", "cancelled"}, {"message", "The turn was cancelled."}}}}},
        {"idle", json::object()}};
    std::vector<json> out;
    std::int64_t seq = 0;
    for (const auto& [type, data] : stream)
      projector.feed({.seq = seq++, .type = type, .data = data, .time = "2026-11-30T00:00:00.000Z"},
                     out);
    std::vector<std::string> types;
    for (const auto& e : out) types.push_back(e["type"]);
    CHECK(types == std::vector<std::string>{"session.started", "turn.started", "message.received",
                                            "step.started", "turn.cancelled", "session.waiting"});
    CHECK(out[4]["data"] == json({{"sequence", 0}, {"turnId", "turn_0"}}));
  }
}

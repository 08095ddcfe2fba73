#include "providers/sse.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

#include <random>

using hearth::providers::SseEvent;
using hearth::providers::SseParser;

namespace {

std::vector<SseEvent> parse(std::string_view bytes, std::size_t piece = 0) {
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& e) { events.push_back(e); });
  if (piece == 0)
    piece = bytes.size() + 1;
  for (std::size_t i = 0; i < bytes.size(); i += piece)
    parser.feed(bytes.substr(i, piece));
  parser.finish();
  return events;
}

} // namespace

TEST_SUITE("providers") {
  TEST_CASE("sse parses data lines, event names, ids and joins multi-line data") {
    const auto events = parse("event: a\ndata: one\ndata:two\nid: 7\n\n: comment\ndata: x\n\n");
    REQUIRE(events.size() == 2);
    CHECK(events[0].event == "a");
    CHECK(events[0].data == "one\ntwo");
    CHECK(events[0].id == "7");
    CHECK(events[1].event.empty());
    CHECK(events[1].data == "x");
  }

  TEST_CASE("sse accepts CRLF, CR and LF line ends, also split between reads") {
    const std::string text = "data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\n\r\n";
    for (std::size_t piece : {0, 1, 2, 3, 5}) {
      CAPTURE(piece);
      const auto events = parse(text, piece);
      REQUIRE(events.size() == 4);
      CHECK(events[0].data == "a");
      CHECK(events[1].data == "b");
      CHECK(events[2].data == "c");
      CHECK(events[3].data == "d");
    }
  }

  TEST_CASE("sse drops events without data and dispatches a final unterminated event") {
    const auto events = parse("event: ping\n\ndata\n\ndata: [DONE]");
    REQUIRE(events.size() == 2);
    CHECK(events[0].data.empty()); // "data" without a colon is an empty data line
    CHECK(events[0].event.empty());
    CHECK(events[1].data == "[DONE]");
  }

  TEST_CASE("sse keeps only one leading space of a value and ignores unknown fields") {
    const auto events = parse("data:  two spaces\nretry: 10\nfoo: bar\n\n");
    REQUIRE(events.size() == 1);
    CHECK(events[0].data == " two spaces");
  }

  TEST_CASE("sse survives random garbage without crashing") {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> byte(0, 255);
    const std::string alphabet = "data: event:\r\n:{}[]\"x\0";
    for (int round = 0; round < 200; ++round) {
      std::string junk(static_cast<std::size_t>(byte(rng)) * 4, '\0');
      for (auto& c : junk)
        c = round % 2 ? static_cast<char>(byte(rng)) : alphabet[byte(rng) % alphabet.size()];
      std::size_t total = 0;
      SseParser parser([&](const SseEvent& e) { total += e.data.size(); });
      for (std::size_t i = 0; i < junk.size(); i += 3)
        parser.feed(std::string_view(junk).substr(i, 3));
      parser.finish();
      CHECK(total <= junk.size());
    }
  }

  TEST_CASE("sse rejects a line longer than its limit with a catalogue error") {
    SseParser parser([](const SseEvent&) {}, 64);
    CHECK_THROWS_AS(parser.feed(std::string(100, 'x')), hearth::Error);
    SseParser data_parser([](const SseEvent&) {}, 64);
    std::string many;
    for (int i = 0; i < 20; ++i)
      many += "data: 0123456789\n";
    CHECK_THROWS_WITH_AS(data_parser.feed(many), doctest::Contains("exceeds"), hearth::Error);
  }
}

#include "ipc/json_lines.hpp"

#include "core/error.hpp"

#include <doctest/doctest.h>

#include <random>

using namespace hearth::ipc;
using nlohmann::json;

TEST_SUITE("ipc") {
  TEST_CASE("encode_line writes one compact line; newlines inside strings stay escaped") {
    const auto line = encode_line({{"text", "a\nb"}, {"n", 1}});
    CHECK(line == "{\"n\":1,\"text\":\"a\\nb\"}\n");
    CHECK(line.find('\n') == line.size() - 1);
  }

  TEST_CASE("encode_line replaces invalid UTF-8 instead of throwing") {
    const auto line = encode_line({{"bytes", std::string("ok\xff\xfe")}});
    CHECK(decode_line(line)["bytes"] == "ok\xEF\xBF\xBD\xEF\xBF\xBD");
  }

  TEST_CASE("unicode survives a round trip") {
    const json message = {{"text", "héllo ✓ 😀 \u0001"}};
    CHECK(decode_line(encode_line(message)) == message);
    CHECK(decode_line("{\"t\":\"\\ud83d\\ude00\"}")["t"] == "😀");
  }

  TEST_CASE("decode_line rejects garbage with a protocol error quoting the line") {
    SUBCASE("not JSON") {
      try {
        decode_line("this is not json", "the runtime");
        FAIL("expected a protocol error");
      } catch (const hearth::Error& e) {
        CHECK(e.info().type == "ipc_protocol_error");
        CHECK(std::string(e.what()).find("Protocol error from the runtime") == 0);
        CHECK(e.info().dev.find("this is not json") != std::string::npos);
      }
    }
    SUBCASE("not an object") {
      CHECK_THROWS_WITH_AS(decode_line("[1,2]"), doctest::Contains("expected a JSON object"),
                           hearth::Error);
      CHECK_THROWS_AS(decode_line("42"), hearth::Error);
      CHECK_THROWS_AS(decode_line("\"text\""), hearth::Error);
    }
    SUBCASE("only the first 200 bytes are quoted, as printable text") {
      const std::string long_line = std::string(300, 'z') + "\x01\xff";
      try {
        decode_line(long_line);
        FAIL("expected a protocol error");
      } catch (const hearth::Error& e) {
        CHECK(e.info().dev.find(std::string(200, 'z')) != std::string::npos);
        CHECK(e.info().dev.find(std::string(201, 'z')) == std::string::npos);
      }
      try {
        decode_line("\x01\xff{");
        FAIL("expected a protocol error");
      } catch (const hearth::Error& e) {
        CHECK(json(e.info().dev).dump().size() > 0); // valid UTF-8: serialising does not throw
        CHECK(json(std::string(e.what())).dump().size() > 0);
      }
    }
  }

  TEST_CASE("decode_line accepts a trailing CR or LF") {
    CHECK(decode_line("{\"a\":1}\r\n")["a"] == 1);
    CHECK(decode_line("{\"a\":1}\n")["a"] == 1);
  }

  TEST_CASE("LineSplitter reassembles lines from arbitrary chunks") {
    LineSplitter splitter;
    const std::string stream = "{\"a\":1}\n{\"b\":\"✓\"}\n\n{\"c\":3}\n";
    for (const char c : stream) splitter.feed(std::string_view(&c, 1)); // one byte at a time
    CHECK(splitter.next() == "{\"a\":1}");
    CHECK(splitter.next() == "{\"b\":\"✓\"}");
    CHECK(splitter.next() == "");
    CHECK(splitter.next() == "{\"c\":3}");
    CHECK_FALSE(splitter.next().has_value());
    splitter.feed("{\"d\":");
    CHECK_FALSE(splitter.next().has_value());
    CHECK(splitter.partial() == "{\"d\":");
    splitter.feed("4}\n");
    CHECK(splitter.next() == "{\"d\":4}");
    CHECK(splitter.partial().empty());
  }

  TEST_CASE("LineSplitter keeps chunk boundaries irrelevant (random split points)") {
    std::string stream;
    std::vector<std::string> lines;
    for (int i = 0; i < 200; ++i) {
      lines.push_back(encode_line({{"i", i}, {"pad", std::string(i % 37, 'p')}}));
      stream += lines.back();
    }
    std::mt19937 random(7);
    LineSplitter splitter;
    std::vector<std::string> got;
    for (std::size_t at = 0; at < stream.size();) {
      const auto size = std::min<std::size_t>(random() % 100 + 1, stream.size() - at);
      splitter.feed(std::string_view(stream).substr(at, size));
      at += size;
      while (auto line = splitter.next()) got.push_back(*line + "\n");
    }
    CHECK(got == lines);
  }

  TEST_CASE("LineSplitter rejects a line over the cap, complete or still growing") {
    SUBCASE("complete") {
      LineSplitter splitter("x", 10);
      splitter.feed("0123456789\n");
      CHECK(splitter.next() == "0123456789");
      splitter.feed("0123456789A\n");
      CHECK_THROWS_WITH_AS(splitter.next(), doctest::Contains("longer than the limit of 10"),
                           hearth::Error);
    }
    SUBCASE("growing without a newline") {
      LineSplitter splitter("x", 10);
      splitter.feed("01234");
      CHECK_FALSE(splitter.next().has_value());
      splitter.feed("56789A");
      CHECK_THROWS_AS(splitter.next(), hearth::Error);
    }
  }

  TEST_CASE("random bytes never crash the decoder: they parse or throw hearth::Error") {
    std::mt19937 random(11);
    for (int round = 0; round < 2000; ++round) {
      std::string bytes(random() % 40, '\0');
      const std::string_view alphabet = "{}[]\":,0a\\u\xff\n \"1e.-tnul";
      for (auto& b : bytes) b = alphabet[random() % alphabet.size()];
      LineSplitter splitter("fuzz", 64);
      splitter.feed(bytes);
      try {
        while (auto line = splitter.next()) (void)decode_line(*line);
      } catch (const hearth::Error&) {
      }
    }
  }
}

#include "core/json.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

using hearth::json_nesting_depth;
using hearth::parse_json;
using hearth::parse_json_or_discarded;

TEST_SUITE("core") {
  TEST_CASE("json_nesting_depth counts brackets outside strings and stops past the limit") {
    CHECK(json_nesting_depth("1") == 0);
    CHECK(json_nesting_depth("[]") == 1);
    CHECK(json_nesting_depth(R"({"a":[{"b":[]}]})") == 4);
    CHECK(json_nesting_depth(R"(["[[[[", "\"[[["])") == 1);
    CHECK(json_nesting_depth(std::string(100000, '['), 512) == 513);
  }

  TEST_CASE("parse_json refuses nesting past the limit with a parse error naming it") {
    const std::string deep = std::string(30000, '[') + std::string(30000, ']');
    try {
      (void)parse_json(deep);
      FAIL("a 30,000-deep array parsed");
    } catch (const nlohmann::json::parse_error& e) {
      CHECK(std::string(e.what()).find("deeper than 512 levels") != std::string::npos);
    }
    const std::string ok = std::string(512, '[') + std::string(512, ']');
    CHECK(parse_json(ok).is_array());
    CHECK_THROWS_AS((void)parse_json("{"), nlohmann::json::parse_error);
    CHECK(parse_json(R"({"a":1})").at("a") == 1);
  }

  TEST_CASE("json_fits bounds a value's text size, and stops early on a large one") {
    using hearth::json_fits;
    using nlohmann::json;
    CHECK(json_fits(json::object(), 16));
    CHECK(json_fits(json{{"name", "World"}}, 64));
    CHECK_FALSE(json_fits(json{{"name", std::string(100, 'x')}}, 64));
    CHECK_FALSE(json_fits(json(std::string(65, 'x')), 64));
    json many = json::array();
    for (int i = 0; i < 1000; ++i) many.push_back(i);
    CHECK_FALSE(json_fits(many, 1024)); // about 5 bytes a number
    CHECK(json_fits(many, 64 * 1024));
    // Deep nesting is walked without recursion.
    json deep = json::array();
    json* cursor = &deep;
    for (int i = 0; i < 10000; ++i) {
      cursor->push_back(json::array());
      cursor = &cursor->back();
    }
    CHECK_FALSE(json_fits(deep, 1024));
    CHECK(json_fits(deep, 1 << 20));
  }

  TEST_CASE("dump_json writes what nlohmann writes, byte for byte") {
    using hearth::dump_json;
    using nlohmann::json;
    const auto reference = [](const json& value) {
      return value.dump(-1, ' ', false, json::error_handler_t::replace);
    };
    std::string every_byte;
    for (int c = 1; c < 256; ++c) every_byte += static_cast<char>(c);
    const json values[] = {
        json(), true, false, 0, -1, 42, std::numeric_limits<std::int64_t>::min(),
        std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::uint64_t>::max(), 0.5,
        100.0, -1e300, 1e21, json(""), json("plain"), json("quote \" back \\ slash / del \x7f"),
        json("\b\f\n\r\t\x01\x1f end"), json("caf\xc3\xa9 \xe2\x9c\x93"), json("bad \xff\xc3 utf-8"),
        json(every_byte), json::object(), json::array(), json::binary({1, 2, 3}),
        json{{"b", 1}, {"a", {1, "two", nullptr, json::object(), json::array()}}},
        json{{"k\"ey\n", {{"x", {{"y", json::array({json::array()})}}}}}, {"", ""}},
        json{{"\xc3\xa9", "\xff"}}};
    for (const auto& value : values) CHECK(dump_json(value) == reference(value));
    // Every position of a byte that needs care, around the eight-byte steps of the scan.
    for (std::size_t size = 1; size <= 20; ++size)
      for (std::size_t at = 0; at < size; ++at)
        for (const char* special : {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xff"}) {
          std::string text(size, 'a');
          text.replace(at, 1, special);
          REQUIRE(dump_json(json(text)) == reference(json(text)));
        }
    // Several bytes that need care in one eight-byte word, beside the bytes next to them in
    // value (0x1f/0x20, '!'/'"'/'#', '['/'\\'/']'), short and long strings: the scan jumps to
    // a word's first special byte, and must neither skip one nor stop at a plain byte.
    std::mt19937 dense(5);
    const char k_near[] = {'"', '\\', '\n', '\x01', '\x1f', ' ', '!', '#', '[', ']', '\x7f', 'a'};
    for (int round = 0; round < 3000; ++round) {
      std::string text(dense() % 41, 'x');
      for (auto& c : text)
        if (dense() % 3 == 0) c = k_near[dense() % sizeof k_near];
      if (round % 50 == 0 && !text.empty()) text[dense() % text.size()] = '\xc3';
      REQUIRE(dump_json(json(text)) == reference(json(text)));
    }
    // Random documents of mixed shapes and text.
    std::mt19937 random(17);
    const auto text = [&] {
      std::string s(random() % 12, ' ');
      for (auto& c : s) c = static_cast<char>(random() % 4 == 0 ? random() % 256 : 32 + random() % 95);
      return s;
    };
    for (int round = 0; round < 200; ++round) {
      json root = json::object();
      std::vector<json*> containers{&root};
      for (int i = 0; i < 40; ++i) {
        json& into = *containers[random() % containers.size()];
        json item;
        switch (random() % 7) {
        case 0: item = text(); break;
        case 1: item = static_cast<std::int64_t>(random()) - (1 << 30); break;
        case 2: item = random() % 2 == 0; break;
        case 3: item = json::object(); break;
        case 4: // reserved, so pointers to its elements stay valid while it grows
          item = json::array();
          item.get_ref<json::array_t&>().reserve(64);
          break;
        case 5: item = static_cast<double>(random()) / 7.0; break;
        default: break;
        }
        json* added = nullptr;
        if (into.is_object()) added = &(into[text() + std::to_string(i)] = std::move(item));
        else {
          into.push_back(std::move(item));
          added = &into.back();
        }
        if (added->is_structured()) containers.push_back(added);
      }
      REQUIRE(dump_json(root) == reference(root));
    }
  }

  TEST_CASE("dump_json writes a deep value without recursion") {
    using nlohmann::json;
    json deep = json::object();
    json* cursor = &deep;
    for (int i = 0; i < 100000; ++i) cursor = &(*cursor)["k"]; // {"k":{"k":...null}}
    const auto text = hearth::dump_json(deep);
    CHECK(text.size() == 100000 * 5 + 4 + 100000);
    CHECK(text.substr(0, 10) == "{\"k\":{\"k\":");
    CHECK(text.substr(100000 * 5, 6) == "null}}");
  }

  TEST_CASE("dump_json_with writes the object as if its members had been emplaced") {
    using hearth::JsonMember;
    using nlohmann::json;
    // The reference: a copy with the members emplaced (a key the object has keeps its value).
    const auto emplaced = [](json value, const std::vector<JsonMember>& members) {
      if (value.is_object())
        for (const auto& m : members)
          value.emplace(m.key, m.raw ? hearth::parse_json(m.value) : json(m.value));
      return hearth::dump_json(value);
    };
    const std::vector<JsonMember> envelope = {
        {"harness", "default"}, {"operationId", "op_1"}, {"runId", "run_1"},
        {"session", "s \"quoted\"\n"}, {"turnId", "turn_1"}};
    const json objects[] = {
        json::object(),
        json{{"a", 1}},                                   // before every member
        json{{"zz", 1}},                                  // after every member
        json{{"message", "m"}, {"sessionX", 2}},          // between, and a key sharing a prefix
        json{{"session", {{"own", true}}}, {"runId", 7}}, // the object's own values win
        json{{"nested", {{"runId", "inner"}}}},           // members go to the root only
        json{{"harness", "h"}, {"turnId", "t"}, {"x", json::array({1, 2})}}};
    for (const auto& object : objects) {
      CHECK(hearth::dump_json_with(object, envelope) == emplaced(object, envelope));
      CHECK(hearth::dump_json_with(object, {}) == hearth::dump_json(object));
    }
    const std::vector<JsonMember> with_raw = {
        {"input", R"({"tools":[{"name":"t"}]})", true}, {"runId", "run_1"}, {"zero", "0", true}};
    CHECK(hearth::dump_json_with(json{{"model", "m"}}, with_raw) ==
          R"({"input":{"tools":[{"name":"t"}]},"model":"m","runId":"run_1","zero":0})");
    CHECK(hearth::dump_json_with(json{{"model", "m"}}, with_raw) == emplaced(json{{"model", "m"}}, with_raw));
    CHECK(hearth::dump_json_with(json{{"a", 1}}, envelope) ==
          R"({"a":1,"harness":"default","operationId":"op_1","runId":"run_1",)"
          R"("session":"s \"quoted\"\n","turnId":"turn_1"})");
    for (const json& other : {json(), json(3), json("text"), json::array({1})}) // not objects
      CHECK(hearth::dump_json_with(other, envelope) == hearth::dump_json(other));
    // Random objects against random sorted member sets drawn from the same small key space.
    std::mt19937 random(23);
    const std::string keys[] = {"", "a", "b", "ba", "harness", "runId", "session", "z", "\xc3\xa9"};
    for (int round = 0; round < 500; ++round) {
      json object = json::object();
      for (const auto& key : keys)
        if (random() % 2 == 0) object[key] = random() % 3 == 0 ? json::object() : json(round);
      std::vector<JsonMember> members;
      for (const auto& key : keys) // in std::string order, as the array is
        if (random() % 2 == 0) { // a string, or any value as its text
          if (random() % 3 == 0)
            members.push_back({key, hearth::dump_json(json{{"n", round}, {"s", key}}), true});
          else
            members.push_back({key, "v" + std::to_string(random() % 100)});
        }
      REQUIRE(hearth::dump_json_with(object, members) == emplaced(object, members));
    }
  }

  TEST_CASE("parse_json_or_discarded never throws") {
    CHECK(parse_json_or_discarded("{").is_discarded());
    CHECK(parse_json_or_discarded(std::string(1000, '{')).is_discarded());
    CHECK(parse_json_or_discarded("[1,2]").size() == 2);
  }
}

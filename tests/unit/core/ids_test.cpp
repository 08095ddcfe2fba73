#include "core/ids.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

using namespace hearth::ids;

TEST_SUITE("core") {
  TEST_CASE("a ULID is 26 Crockford base32 characters that encode its millisecond time") {
    UlidGenerator generator;
    const auto id = generator.next_at(1'700'000'000'123);
    CHECK(id.size() == 26);
    CHECK(id.find_first_not_of("0123456789ABCDEFGHJKMNPQRSTVWXYZ") == std::string::npos);
    CHECK(is_ulid(id));
    CHECK(ulid_time_ms(id) == 1'700'000'000'123ULL);
    CHECK(ulid_time_ms(generator.next_at(0)) == 1'700'000'000'123ULL); // clock step back
  }

  TEST_CASE("ULIDs within one millisecond count up, so they sort in creation order") {
    UlidGenerator generator;
    std::vector<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back(generator.next_at(42));
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == ids.size());
    CHECK(ids.front().substr(0, 10) == ids.back().substr(0, 10)); // same time prefix
    const auto later = generator.next_at(43);
    CHECK(later > ids.back());
    CHECK(ulid_time_ms(later) == 43u);
  }

  TEST_CASE("the time prefix is the spec's encoding") {
    // From the ULID spec: 1469918176385 ms is "01ARYZ6S41".
    UlidGenerator generator;
    CHECK(generator.next_at(1469918176385).substr(0, 10) == "01ARYZ6S41");
    CHECK(generator.next_at((1ULL << 48) - 1).substr(0, 10) == "7ZZZZZZZZZ");
  }

  TEST_CASE("is_ulid rejects wrong lengths, letters outside the alphabet and overflowing times") {
    CHECK_FALSE(is_ulid(""));
    CHECK_FALSE(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FA"));   // 25 characters
    CHECK_FALSE(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAVU")); // 27
    CHECK_FALSE(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAI"));  // I is not Crockford
    CHECK_FALSE(is_ulid("81ARYZ6S41TSV4RRFFQ69G5FAV"));  // more than 48 bits of time
    CHECK(is_ulid("01ARYZ6S41TSV4RRFFQ69G5FAV"));
  }

  TEST_CASE("prefixed ids are prefix, underscore, ULID") {
    const auto run = run_id();
    REQUIRE(run.size() == 4 + 26);
    CHECK(run.substr(0, 4) == "run_");
    CHECK(is_ulid(run.substr(4)));
    CHECK(make_id("turn").substr(0, 5) == "turn_");
    CHECK(make_id("op_").substr(0, 3) == "op_");
    CHECK(make_id("op_").size() == 3 + 26);
  }

  TEST_CASE("ids from many threads are unique and each thread sees them increase") {
    std::vector<std::vector<std::string>> per_thread(4);
    std::vector<std::thread> threads;
    for (auto& ids : per_thread)
      threads.emplace_back([&ids] {
        for (int i = 0; i < 500; ++i) ids.push_back(ulid());
      });
    for (auto& t : threads) t.join();
    std::set<std::string> all;
    for (const auto& ids : per_thread) {
      CHECK(std::is_sorted(ids.begin(), ids.end()));
      all.insert(ids.begin(), ids.end());
    }
    CHECK(all.size() == 2000);
  }

  TEST_CASE("random_bytes fills all of a buffer longer than one getrandom call gives") {
    // getrandom(2) returns at most 33554431 bytes per call: the rest needs the retry loop.
    const std::size_t size = (std::size_t{32} << 20) + 4096;
    std::vector<unsigned char> buffer(size, 0);
    random_bytes(buffer.data(), buffer.size());
    const auto zero = [](auto first, auto last) {
      return std::all_of(first, last, [](unsigned char b) { return b == 0; });
    };
    CHECK_FALSE(zero(buffer.begin(), buffer.begin() + 64));
    CHECK_FALSE(zero(buffer.end() - 4096, buffer.end())); // past the first call's share
    unsigned char small[3] = {};
    random_bytes(small, 0); // nothing asked, nothing read
    CHECK(small[0] == 0);
  }
}

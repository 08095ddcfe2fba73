// Webhook signatures against the providers' own documented examples, and their failure modes.
#include "triggers/signatures.hpp"

#include <doctest/doctest.h>

using namespace hearth::triggers;

namespace {
// Slack's "Verifying requests from Slack" example (api.slack.com/authentication/verifying-requests-from-slack).
const std::string k_slack_secret = "8f742231b10e8888abcd99yyyzzz85a5";
const std::string k_slack_ts = "1531420618";
const std::string k_slack_body =
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const std::string k_slack_sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
} // namespace

TEST_SUITE("triggers") {
  TEST_CASE("Slack: the documented example verifies inside the 5-minute window only") {
    CHECK(verify_slack(k_slack_secret, k_slack_ts, k_slack_sig, k_slack_body, 1531420618).ok);
    CHECK(verify_slack(k_slack_secret, k_slack_ts, k_slack_sig, k_slack_body, 1531420618 + 300).ok);
    CHECK_FALSE(verify_slack(k_slack_secret, k_slack_ts, k_slack_sig, k_slack_body, 1531420618 + 301).ok);
    CHECK_FALSE(verify_slack(k_slack_secret, k_slack_ts, k_slack_sig, k_slack_body, 1531420618 - 301).ok);
  }

  TEST_CASE("Slack: one changed byte, a wrong secret or malformed headers fail") {
    auto body = k_slack_body;
    body.back() = 'd';
    CHECK_FALSE(verify_slack(k_slack_secret, k_slack_ts, k_slack_sig, body, 1531420618).ok);
    CHECK_FALSE(verify_slack("other", k_slack_ts, k_slack_sig, k_slack_body, 1531420618).ok);
    CHECK_FALSE(verify_slack(k_slack_secret, "", k_slack_sig, k_slack_body, 1531420618).ok);
    CHECK_FALSE(verify_slack(k_slack_secret, "15314x0618", k_slack_sig, k_slack_body, 1531420618).ok);
    CHECK_FALSE(verify_slack(k_slack_secret, k_slack_ts, "", k_slack_body, 1531420618).ok);
    CHECK_FALSE(verify_slack(k_slack_secret, k_slack_ts, k_slack_sig.substr(3), k_slack_body, 1531420618).ok);
    const auto v = verify_slack(k_slack_secret, k_slack_ts, k_slack_sig, k_slack_body, 1531420618 + 3600);
    CHECK(v.reason.find("window") != std::string::npos);
  }

  TEST_CASE("GitHub: the documented X-Hub-Signature-256 example verifies; the exact bytes matter") {
    const std::string secret = "It's a Secret to Everybody";
    const std::string sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    CHECK(verify_github(secret, sig, "Hello, World!").ok);
    CHECK_FALSE(verify_github(secret, sig, "Hello, World! ").ok);
    CHECK_FALSE(verify_github(secret, sig, "Hello,  World!").ok);
    CHECK_FALSE(verify_github(secret, "", "Hello, World!").ok);
    CHECK_FALSE(verify_github(secret, "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                              "Hello, World!").ok);
    CHECK_FALSE(verify_github("wrong", sig, "Hello, World!").ok);
  }

  TEST_CASE("generic HMAC: sha256 or sha1, hex or base64, prefix, timestamped window") {
    const std::string body = R"({"a":1})";
    GenericScheme plain{.digest = Digest::sha256, .prefix = "sha256="};
    CHECK(verify_generic(plain, "k", "sha256=" + hmac_hex(Digest::sha256, "k", body), "", body, 0).ok);
    CHECK_FALSE(verify_generic(plain, "k", hmac_hex(Digest::sha256, "k", body), "", body, 0).ok);
    GenericScheme sha1{.digest = Digest::sha1, .base64 = true};
    CHECK(verify_generic(sha1, "k", hmac_base64(Digest::sha1, "k", body), "", body, 0).ok);
    CHECK_FALSE(verify_generic(sha1, "k", hmac_base64(Digest::sha256, "k", body), "", body, 0).ok);
    GenericScheme stamped{.timestamped = true, .tolerance_s = 60};
    const auto sig = hmac_hex(Digest::sha256, "k", "1000." + body);
    CHECK(verify_generic(stamped, "k", sig, "1000", body, 1030).ok);
    CHECK_FALSE(verify_generic(stamped, "k", sig, "1000", body, 1061).ok);
    CHECK_FALSE(verify_generic(stamped, "k", sig, "1001", body, 1030).ok);
    CHECK_FALSE(verify_generic(stamped, "k", sig, "", body, 1030).ok);
  }

  TEST_CASE("constant-time equality") {
    CHECK(equal_constant_time("abc", "abc"));
    CHECK(equal_constant_time("", ""));
    CHECK_FALSE(equal_constant_time("abc", "abd"));
    CHECK_FALSE(equal_constant_time("abc", "abcd"));
    CHECK_FALSE(equal_constant_time("", "a"));
  }
}

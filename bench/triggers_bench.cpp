// bench_triggers: a GitHub issue_comment delivery's verify + parse + plan + durable admission
// (lib/triggers, store schema 4) on a file store in a temp dir, as the channel route does it
// minus HTTP. Prints p50/p99 in µs (issue 14: verify + admit <= 1 ms p50).
#include "store/store.hpp"
#include "triggers/channels.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

using namespace hearth;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  const auto dir = std::filesystem::temp_directory_path() / ("hearth-bench-triggers-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto store = store::open_store("sqlite:" + (dir / "state.db").string());
  std::vector<std::string> problems;
  const auto channel = *triggers::parse_channel(
      "github", "channels/github.json",
      {{"type", "github"}, {"secretEnv", "S"},
       {"dispatch", {{"id", "{{conversationKey}}"}, {"events", {"issue_comment.created"}}}}},
      problems);
  const std::string secret = "bench-secret";
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const json payload = {{"action", "created"},
                          {"issue", {{"number", i % 50}}},
                          {"comment", {{"body", std::string(2000, 'x')}, {"id", i}}},
                          {"repository", {{"name", "app"}, {"owner", {{"login", "acme"}}}}}};
    const auto body = payload.dump();
    const auto sig = "sha256=" + triggers::hmac_hex(triggers::Digest::sha256, secret, body);
    const auto delivery = "d-" + std::to_string(i);
    const auto t0 = Clock::now();
    const auto d = triggers::receive(
        channel, channel.routes[0],
        [&](std::string_view h) -> std::string {
          if (h == "X-Hub-Signature-256") return sig;
          if (h == "X-GitHub-Event") return "issue_comment";
          if (h == "X-GitHub-Delivery") return delivery;
          if (h == "Content-Type") return "application/json";
          return "";
        },
        body, secret, 0);
    for (auto& p : triggers::plan(channel, d))
      store->admit_dispatch({.agent = "root", .instance_id = p.id, .input = p.input,
                             .idempotency_key = p.idempotency_key, .source = "channel:github"});
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("webhook verify + parse + admit (GitHub, 2 KB comment, file store): n=%d p50=%.0f us "
              "p99=%.0f us\n",
              n, us[us.size() / 2], us[us.size() * 99 / 100]);
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

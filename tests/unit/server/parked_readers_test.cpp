// Many parked long-poll readers must not starve new requests, and shutdown ends them promptly.
#include "server_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

namespace {

/// A raw loopback connection that sends `request` and never reads: a parked client.
int park(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  return fd;
}

} // namespace

TEST_SUITE("server") {
  TEST_CASE("200 parked long-poll readers leave /eve/v1/health fast, and shutdown ends them") {
    ServerFixture f;
    auto c = f.client();
    // An open stream to park on: an agent instance after one prompt.
    REQUIRE(c.Post("/agents/assistant/p?wait=result", R"({"message":"hi"})", "application/json"));
    const std::string request =
        "GET /agents/assistant/p?offset=now&live=long-poll HTTP/1.1\r\nHost: x\r\n\r\n";
    std::vector<int> fds;
    for (int i = 0; i < 200; ++i) fds.push_back(park(f.server->port(), request));
    const auto started = std::chrono::steady_clock::now();
    auto health = c.Get("/eve/v1/health");
    const auto elapsed = std::chrono::steady_clock::now() - started;
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(elapsed < std::chrono::seconds(2));
    const auto stop_started = std::chrono::steady_clock::now();
    CHECK(f.server->shutdown(std::chrono::seconds(10)));
    CHECK(std::chrono::steady_clock::now() - stop_started < std::chrono::seconds(5));
    for (int fd : fds) ::close(fd);
  }
}

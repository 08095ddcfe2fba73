// Server limits and framing over raw sockets: body limit on chunked bodies, URL and header limits,
// conflicting framing, the parked-reader cap (503 server_busy), and a closed peer freeing its
// reader at once.
#include "server_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace {

int dial(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return; // the server stopped reading
    sent += static_cast<std::size_t>(n);
  }
}

/// Reads until the head and `min_body` bytes after it arrived, EOF, or 5 s.
std::string read_some(int fd, std::size_t min_body = 1) {
  std::string got;
  char buf[8192];
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    const auto head = got.find("\r\n\r\n");
    if (head != std::string::npos && got.size() >= head + 4 + min_body) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

std::string roundtrip(int port, const std::string& request) {
  const int fd = dial(port);
  send_all(fd, request);
  auto got = read_some(fd);
  ::close(fd);
  return got;
}

hearth::server::ServerOptions small_limits() {
  hearth::server::ServerOptions o;
  o.max_body_bytes = 1024;
  o.max_url_bytes = 256;
  o.max_header_bytes = 4096;
  o.max_streams = 3;
  return o;
}

} // namespace

TEST_SUITE("server") {
  TEST_CASE("limits: a chunked body past maxBodyBytes is 413, counted decoded") {
    ServerFixture f(small_limits());
    std::string req = "POST /workflows/hello HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) req += "200\r\n" + std::string(512, ' ') + "\r\n";
    req += "0\r\n\r\n";
    const auto got = roundtrip(f.server->port(), req);
    CHECK(got.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(got.find("payload_too_large") != std::string::npos);
    // Just under the limit is fine.
    const auto ok = roundtrip(f.server->port(),
                             "POST /workflows/hello HTTP/1.1\r\nHost: x\r\nContent-Type: "
                             "application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
    CHECK(ok.rfind("HTTP/1.1 202", 0) == 0);
  }

  TEST_CASE("limits: URL and header limits, conflicting framing, content encodings") {
    ServerFixture f(small_limits());
    const int port = f.server->port();
    CHECK(roundtrip(port, "GET /runs/" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n")
              .rfind("HTTP/1.1 414", 0) == 0);
    CHECK(roundtrip(port, "GET /runs/" + std::string(5000, 'a') + " HTTP/1.1\r\n\r\n")
              .rfind("HTTP/1.1 414", 0) == 0);
    CHECK(roundtrip(port, "GET /runs/a HTTP/1.1\r\nX: " + std::string(5000, 'a') + "\r\n\r\n")
              .rfind("HTTP/1.1 431", 0) == 0);
    CHECK(roundtrip(port, "POST /workflows/hello HTTP/1.1\r\nContent-Length: 2\r\n"
                         "Content-Length: 3\r\n\r\n{}")
              .rfind("HTTP/1.1 400", 0) == 0);
    CHECK(roundtrip(port, "POST /workflows/hello HTTP/1.1\r\nContent-Length: 2\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n{}")
              .rfind("HTTP/1.1 400", 0) == 0);
    CHECK(roundtrip(port, "POST /workflows/hello HTTP/1.1\r\nContent-Length: -2\r\n\r\n{}")
              .rfind("HTTP/1.1 400", 0) == 0);
    CHECK(roundtrip(port, "POST /workflows/hello HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")
              .rfind("HTTP/1.1 413", 0) == 0);
    CHECK(roundtrip(port, "POST /workflows/hello HTTP/1.1\r\nContent-Encoding: gzip\r\n"
                         "Content-Length: 2\r\n\r\n{}")
              .rfind("HTTP/1.1 415", 0) == 0);
    CHECK(roundtrip(port, "POST /workflows/hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 202", 0) == 0);
  }

  TEST_CASE("limits: past maxStreams a new reader gets 503 server_busy; a closed peer frees one") {
    ServerFixture f(small_limits());
    auto c = f.client();
    REQUIRE(c.Post("/agents/assistant/p?wait=result", R"({"message":"hi"})", "application/json"));
    const std::string sse = "GET /agents/assistant/p?offset=now&live=sse HTTP/1.1\r\nHost: x\r\n\r\n";
    std::vector<int> fds;
    for (int i = 0; i < 3; ++i) {
      fds.push_back(dial(f.server->port()));
      send_all(fds.back(), sse);
      CHECK(read_some(fds.back()).rfind("HTTP/1.1 200", 0) == 0);
    }
    CHECK(f.server->streams() == 3);
    const auto busy = roundtrip(f.server->port(), sse);
    CHECK(busy.rfind("HTTP/1.1 503", 0) == 0);
    CHECK(busy.find("server_busy") != std::string::npos);
    ::close(fds.back());
    fds.pop_back();
    const auto closed_at = std::chrono::steady_clock::now();
    while (f.server->streams() > 2 &&
           std::chrono::steady_clock::now() - closed_at < std::chrono::seconds(2))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(f.server->streams() == 2);
    CHECK(std::chrono::steady_clock::now() - closed_at < std::chrono::seconds(1));
    for (int fd : fds) ::close(fd);
  }
}

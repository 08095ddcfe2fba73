// libFuzzer target: raw bytes through the HTTP server's request parser, framing checks, router and
// handlers. One in-process Server (memory store, mock model) on a loopback port serves every input:
// the input is written on a fresh connection, the write side is shut, and the answer is read to
// EOF. A crash, a sanitizer report or a hang (-timeout) anywhere in the server is a finding.
#include "runtime/runtime.hpp"
#include "server/auth/auth.hpp"
#include "server/server.hpp"
#include "store/store.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace {

struct World {
  std::unique_ptr<hearth::store::Store> store = hearth::store::open_store("memory:");
  std::unique_ptr<hearth::runtime::Runtime> runtime;
  std::unique_ptr<hearth::server::Server> server;
  int port = 0;

  World() {
    using namespace hearth::runtime;
    const auto root = std::filesystem::temp_directory_path() / ("hearth-fuzz-http-" +
                                                                 std::to_string(::getpid()));
    std::filesystem::create_directories(root);
    AgentDef assistant{.name = "assistant", .model = "mock/echo", .instructions = "You help.",
                       .http = true};
    WorkflowDef hello{.name = "hello", .body = "Greet {{payload.name}}.", .http = true};
    Program program{.root_agent = "assistant", .agents = {assistant}, .workflows = {hello}};
    runtime = std::make_unique<Runtime>(std::move(program), RuntimeContext{.project_root = root},
                                        *store);
    hearth::server::ServerOptions options;
    options.port = 0;
    options.max_body_bytes = 1 << 16;
    options.long_poll_timeout = std::chrono::milliseconds(50);
    options.sse_lifetime = std::chrono::milliseconds(50);
    options.eve_lease = std::chrono::milliseconds(50);
    options.eve_unleased_limit = std::chrono::milliseconds(50);
    options.keep_alive_timeout = std::chrono::milliseconds(200);
    options.io_timeout = std::chrono::milliseconds(500);
    // Anonymous callers reach every handler (fail-closed auth would answer 401 before them); the
    // Host/Origin checks and the auth walk still run on every input.
    auto auth = std::make_shared<hearth::server::auth::Config>();
    auth->insecure_no_auth = true;
    options.auth = std::move(auth);
    server = std::make_unique<hearth::server::Server>(*runtime, options);
    server->start();
    port = server->port();
    // A run and a session to read, so stream routes reach their live paths.
    (void)exchange("POST /workflows/hello?wait=result HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
    (void)exchange("POST /agents/assistant/a1?wait=result HTTP/1.1\r\nContent-Type: "
                   "application/json\r\nContent-Length: 15\r\n\r\n{\"message\":\"x\"}");
  }

  std::string exchange(std::string_view bytes) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) std::abort();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    std::string answer;
    char buf[16384];
    for (;;) { // the server must finish every exchange on its own: -timeout catches a hang
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (answer.size() < (1u << 20)) answer.append(buf, static_cast<std::size_t>(n));
    }
    // Close with a reset: at ~500 exchanges/s, 60 s of TIME_WAIT per closed client socket would
    // use up the ephemeral ports (28k) and make connect() fail after ~200k inputs.
    const linger reset{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
    return answer;
  }
};

World& world() {
  static World* w = new World(); // never destroyed: libFuzzer exits with the server running
  return *w;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto answer =
      world().exchange(std::string_view(reinterpret_cast<const char*>(data), size));
  // Whatever came in, anything that came out is an HTTP/1.1 answer.
  if (!answer.empty() && answer.rfind("HTTP/1.1 ", 0) != 0) std::abort();
  return 0;
}

// FakeLlmServer: an in-process httplib server on 127.0.0.1:<port 0> that answers each POST with
// the next queued reply (an SSE body replayed in small chunks, or an error status with headers)
// and records every request, so provider tests run against real sockets without a network.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

/// The text of tests/fixtures/llm/<relative>.
inline std::string llm_fixture(const std::string& relative) {
  const auto path = std::filesystem::path(HEARTH_SOURCE_DIR) / "tests/fixtures/llm" / relative;
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing fixture " << path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class FakeLlmServer {
public:
  struct Reply {
    int status = 200;
    std::string body{};
    std::string content_type = "text/event-stream";
    httplib::Headers headers{};
    std::size_t chunk = 7; // bytes per write: exercises events split across reads
  };
  struct Recorded {
    std::string path{};
    httplib::Headers headers{};
    std::string body{};
  };

  FakeLlmServer() {
    m_server.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Reply reply;
      {
        std::lock_guard lock(m_mutex);
        m_requests.push_back({req.path, req.headers, req.body});
        if (m_replies.empty()) {
          reply = {.status = 500,
                   .body = R"({"error":{"message":"no reply queued"}})",
                   .content_type = "application/json"};
        } else {
          reply = std::move(m_replies.front());
          m_replies.pop_front();
        }
      }
      res.status = reply.status;
      for (const auto& [k, v] : reply.headers)
        res.set_header(k, v);
      if (reply.status != 200) {
        res.set_content(reply.body, reply.content_type);
        return;
      }
      auto body = std::make_shared<std::string>(std::move(reply.body));
      const auto chunk = std::max<std::size_t>(1, reply.chunk);
      res.set_chunked_content_provider(
          reply.content_type, [body, chunk](std::size_t, httplib::DataSink& sink) {
            for (std::size_t i = 0; i < body->size(); i += chunk)
              if (!sink.write(body->data() + i, std::min(chunk, body->size() - i)))
                return false;
            sink.done();
            return true;
          });
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    REQUIRE(m_port > 0);
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!m_server.is_running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    REQUIRE(m_server.is_running());
  }
  ~FakeLlmServer() {
    m_server.stop();
    m_thread.join();
  }
  FakeLlmServer(const FakeLlmServer&) = delete;
  FakeLlmServer& operator=(const FakeLlmServer&) = delete;

  void enqueue(Reply reply) {
    std::lock_guard lock(m_mutex);
    m_replies.push_back(std::move(reply));
  }
  std::vector<Recorded> requests() {
    std::lock_guard lock(m_mutex);
    return m_requests;
  }
  std::string url(const std::string& prefix = "") const {
    return "http://127.0.0.1:" + std::to_string(m_port) + prefix;
  }

private:
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  std::mutex m_mutex;
  std::deque<Reply> m_replies;
  std::vector<Recorded> m_requests;
};

/// A loopback port that refuses connections: bound (so nobody else takes it) but not listening.
class RefusingPort {
public:
  RefusingPort() {
    m_fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    m_port = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(m_fd); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return m_port; }

private:
  int m_fd = -1;
  int m_port = 0;
};

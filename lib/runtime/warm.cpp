// The warm runtime's socket: server (in `hearth dev`'s serving child) and client (`hearth run`,
// `hearth connect`); see warm.hpp and docs/ipc.md "Warm runtime".
#include "runtime/warm.hpp"

#include "core/errors.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

extern char** environ;

namespace hearth::runtime {
namespace {
using nlohmann::json;
constexpr const char* k_socket_name = "runtime.sock";

std::string errno_text(int err) { return std::strerror(err); }

/// A sockaddr_un for `<dir>/runtime.sock`: the path itself when it fits sun_path, else through
/// the directory's fd (/proc/self/fd/N/runtime.sock), which any length of root allows.
sockaddr_un socket_address(const std::filesystem::path& dir, int dir_fd) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto path = (dir / k_socket_name).string();
  if (path.size() >= sizeof addr.sun_path)
    path = "/proc/self/fd/" + std::to_string(dir_fd) + "/" + k_socket_name;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

/// The uid at the other end of a connected Unix socket, or nullopt.
std::optional<uid_t> peer_uid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    return std::nullopt;
  return cred.uid;
}

void wake(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
}

} // namespace

std::filesystem::path warm_dir(const std::filesystem::path& root) { return root / ".hearth" / "dev"; }

std::string digest(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[40];
  std::snprintf(out, sizeof out, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string environment_digest(const std::vector<std::string>& entries) {
  std::vector<std::string_view> kept;
  for (const auto& e : entries) {
    const auto name = std::string_view(e).substr(0, e.find('='));
    if (std::find(std::begin(k_env_noise), std::end(k_env_noise), name) == std::end(k_env_noise))
      kept.push_back(e);
  }
  std::sort(kept.begin(), kept.end());
  std::string joined;
  for (const auto& e : kept) {
    joined += e;
    joined += '\0';
  }
  return digest(joined);
}

std::string environment_digest() {
  std::vector<std::string> entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) entries.emplace_back(*e);
  return environment_digest(entries);
}

/// This executable: its path, size and mtime (a rebuilt hearth of the same version differs).
std::string binary_identity() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  struct stat st{};
  if (ec || ::stat(exe.c_str(), &st) != 0) return "unknown";
  return exe.string() + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) +
         "." + std::to_string(st.st_mtim.tv_nsec);
}

json make_identity(const IdentityInputs& in) {
  return {{"version", HEARTH_VERSION},
          {"binary", binary_identity()},
          {"uid", std::to_string(::geteuid())},
          {"root", in.root},
          // Its content, not its path: `--config` spells the same file in several ways.
          {"config", in.config_path.empty() ? std::string("none") : digest(in.config_text)},
          {"manifest", digest(in.manifest_text)},
          {"store", in.store_location},
          {"env", environment_digest()}};
}

std::string identity_mismatch(const json& expected, const json& actual) {
  if (!actual.is_object()) return "it announced no identity";
  static const std::map<std::string, std::string, std::less<>> names = {
      {"version", "its hearth version"},     {"binary", "its hearth executable"},
      {"uid", "its user"},
      {"root", "its project root"},          {"config", "its hearth.json"},
      {"manifest", "its compiled manifest"}, {"store", "its store"},
      {"env", "its environment"}};
  for (const auto& [key, value] : expected.items()) {
    if (actual.contains(key) && actual[key] == value) continue;
    const auto it = names.find(key);
    return (it != names.end() ? it->second : "its " + key) + " differs";
  }
  return {};
}

// --- server --------------------------------------------------------------------------------------

WarmServer::WarmServer(std::filesystem::path dir, Runtime& runtime, json identity,
                       std::size_t max_connections)
    : m_dir(std::move(dir)), m_runtime(runtime), m_identity(std::move(identity)),
      m_max_connections(max_connections) {}

WarmServer::~WarmServer() {
  stop();
  if (m_dir_fd >= 0) ::close(m_dir_fd);
  if (m_wake_fd >= 0) ::close(m_wake_fd);
}

void WarmServer::start() {
  const auto dir = m_dir.string();
  const auto fail = [&](const std::string& action, int err) {
    return errors::io_error(action, (m_dir / k_socket_name).string(), errno_text(err));
  };
  std::error_code ec;
  std::filesystem::create_directories(m_dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw fail("create the directory of", errno);
  m_dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (m_dir_fd < 0) throw fail("open the directory of", errno);
  struct stat st{};
  if (::fstat(m_dir_fd, &st) != 0) throw fail("inspect the directory of", errno);
  if (st.st_uid != ::geteuid()) throw fail("use the directory of", EPERM);
  if ((st.st_mode & 07777) != 0700 && ::chmod(dir.c_str(), 0700) != 0)
    throw fail("restrict the directory of", errno);
  // A socket left by a dev server that died (or an older generation's, still draining: new
  // connections go to the newest generation) is replaced.
  if (::unlinkat(m_dir_fd, k_socket_name, 0) != 0 && errno != ENOENT) throw fail("replace", errno);
  m_listen_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (m_listen_fd < 0) throw fail("create", errno);
  const auto addr = socket_address(m_dir, m_dir_fd);
  if (::bind(m_listen_fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    throw fail("bind", errno);
  if (::fchmodat(m_dir_fd, k_socket_name, 0600, 0) != 0) throw fail("restrict", errno);
  if (::fstatat(m_dir_fd, k_socket_name, &st, AT_SYMLINK_NOFOLLOW) != 0) throw fail("inspect", errno);
  m_dev = st.st_dev;
  m_ino = st.st_ino;
  if (::listen(m_listen_fd, static_cast<int>(m_max_connections)) != 0) throw fail("listen on", errno);
  m_wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (m_wake_fd < 0) throw fail("start serving", errno);
  {
    std::lock_guard lock(m_mutex);
    m_accepting = true;
  }
  m_acceptor = std::thread([this] { accept_loop(); });
}

void WarmServer::stop_accepting() {
  {
    std::lock_guard lock(m_mutex);
    if (!m_accepting) return;
    m_accepting = false;
  }
  wake(m_wake_fd);
  if (m_acceptor.joinable()) m_acceptor.join();
  ::close(m_listen_fd);
  m_listen_fd = -1;
  // Remove the socket only if it is still the one we bound: a newer generation replaces it.
  struct stat st{};
  if (::fstatat(m_dir_fd, k_socket_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == m_dev &&
      st.st_ino == m_ino)
    ::unlinkat(m_dir_fd, k_socket_name, 0);
}

void WarmServer::stop() {
  stop_accepting();
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard lock(m_mutex);
    connections.swap(m_connections);
    for (auto& c : connections) // its peer sees EOF and ends; -1: it closed its fd already
      if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
  }
  for (auto& c : connections)
    if (c->thread.joinable()) c->thread.join();
}

bool WarmServer::drain(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    bool busy = false;
    {
      std::lock_guard lock(m_mutex);
      for (const auto& c : m_connections)
        if (!c->done && c->work.size() > 0) busy = true;
    }
    if (!busy) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::size_t WarmServer::connection_count() const {
  std::lock_guard lock(m_mutex);
  return static_cast<std::size_t>(std::count_if(
      m_connections.begin(), m_connections.end(), [](const auto& c) { return !c->done; }));
}

void WarmServer::reap_finished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard lock(m_mutex);
    for (auto it = m_connections.begin(); it != m_connections.end();)
      if ((*it)->done) {
        finished.push_back(std::move(*it));
        it = m_connections.erase(it);
      } else {
        ++it;
      }
  }
  for (auto& c : finished)
    if (c->thread.joinable()) c->thread.join();
}

void WarmServer::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake_fd, POLLIN, 0}};
    if (::poll(fds, 2, 1000) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    reap_finished();
    if (fds[0].revents == 0) continue;
    const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue; // EAGAIN, ECONNABORTED, EMFILE: the next poll retries
    // Only our own uid: anyone else is closed before a byte is read or written.
    const auto uid = peer_uid(fd);
    if (!uid || *uid != ::geteuid()) {
      ::close(fd);
      continue;
    }
    std::lock_guard lock(m_mutex);
    const auto live = std::count_if(m_connections.begin(), m_connections.end(),
                                    [](const auto& c) { return !c->done; });
    if (static_cast<std::size_t>(live) >= m_max_connections) {
      ::close(fd); // the client sees EOF before `ready` and starts a runtime of its own
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    auto& ref = *connection;
    m_connections.push_back(std::move(connection));
    ref.thread = std::thread([this, &ref] { serve(ref); });
  }
}

void WarmServer::serve(Connection& connection) {
  const int fd = connection.fd;
  auto& work = connection.work;
  {
    ipc::PeerOptions options;
    options.name = "a warm client";
    ipc::Peer peer(fd, fd, options);
    register_runtime_methods(peer, m_runtime, {.resumable_runs = false, .work = &work});
    // `shutdown` ends this connection only: the dev server keeps serving. Its reply is still
    // written: close() stops the reading, not the writing.
    peer.on_request("shutdown", [&peer](const ipc::Request&) {
      peer.close();
      return json::object();
    });
    peer.notify("ready", {{"pid", ::getpid()}, {"version", HEARTH_VERSION}, {"identity", m_identity}});
    // This thread reads until the client goes (EOF), says shutdown, or stop() shuts the socket
    // down: one thread fewer per connection than a reader of its own.
    peer.run();
    // What the client still runs ends cancelled, as the stdio child's runs do when its stdin
    // closes. Cancelling before a run has registered with the runtime misses it: retry until
    // the handlers are done.
    while (work.size() > 0) {
      work.cancel_all(m_runtime);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } // ~Peer: workers joined, the last replies flushed
  {
    // Under the mutex, so stop() never shuts down this fd number once it may be reused.
    std::lock_guard lock(m_mutex);
    ::close(fd);
    connection.fd = -1;
  }
  connection.done = true;
}

// --- client --------------------------------------------------------------------------------------

WarmClient::WarmClient(int fd) : m_fd(fd) {}

WarmClient::~WarmClient() {
  ::shutdown(m_fd, SHUT_RDWR);
  m_peer.reset();
  ::close(m_fd);
}

std::unique_ptr<WarmClient> WarmClient::connect(const std::filesystem::path& root,
                                                const json& expected, std::string& why) {
  const auto dir = warm_dir(root);
  const int dir_fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    why = "no dev server of this project (" + dir.string() + ": " + errno_text(errno) + ")";
    return nullptr;
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const auto addr = socket_address(dir, dir_fd);
  const bool connected =
      fd >= 0 && ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  const int err = errno;
  ::close(dir_fd);
  if (!connected) {
    if (fd >= 0) ::close(fd);
    why = "no dev server listens on " + (dir / k_socket_name).string() + " (" + errno_text(err) + ")";
    return nullptr;
  }
  if (const auto uid = peer_uid(fd); !uid || *uid != ::geteuid()) {
    ::close(fd);
    why = "the socket's server runs as another user";
    return nullptr;
  }
  std::unique_ptr<WarmClient> client(new WarmClient(fd));
  struct Hello { // shared with the reader thread, which may outlive this call's locals
    std::mutex mutex;
    std::condition_variable cv;
    std::optional<json> params;
  };
  const auto hello_state = std::make_shared<Hello>();
  ipc::PeerOptions options;
  options.name = "the warm runtime";
  client->m_peer = std::make_unique<ipc::Peer>(fd, fd, options);
  client->m_peer->on_notification("ready", [hello_state](const ipc::Notification& n) {
    std::lock_guard lock(hello_state->mutex);
    if (!hello_state->params) hello_state->params = n.params;
    hello_state->cv.notify_all();
  });
  client->m_peer->start();
  std::optional<json> hello;
  {
    std::unique_lock lock(hello_state->mutex);
    const auto deadline = std::chrono::steady_clock::now() + k_warm_hello_timeout;
    while (!hello_state->params && !client->m_peer->is_closed() &&
           std::chrono::steady_clock::now() < deadline)
      hello_state->cv.wait_for(lock, std::chrono::milliseconds(20));
    hello = hello_state->params;
  }
  if (!hello) {
    why = client->m_peer->is_closed() ? "the dev server closed the connection (busy?)"
                                      : "the dev server did not answer in time";
    return nullptr;
  }
  const auto identity = hello->is_object() ? hello->value("identity", json()) : json();
  if (const auto mismatch = identity_mismatch(expected, identity); !mismatch.empty()) {
    why = "the dev server's runtime is not this one: " + mismatch;
    return nullptr;
  }
  client->m_hello = *hello;
  return client;
}

json WarmClient::request(const std::string& method, const json& params,
                         const std::function<void(const json&)>& on_event) {
  ipc::CallOptions options;
  options.on_notification = [&on_event](const ipc::Notification& n) {
    if (n.method == "event" && on_event) on_event(n.params.value("event", json()));
  };
  return m_peer->request(method, params, options);
}

bool WarmClient::notify(const std::string& method, const json& params) {
  return m_peer->notify(method, params);
}

void WarmClient::kill() { ::shutdown(m_fd, SHUT_RDWR); }

bool WarmClient::lost() { return m_peer->is_closed(); }

} // namespace hearth::runtime

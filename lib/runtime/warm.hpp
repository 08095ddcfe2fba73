// The warm runtime (issue 17 §2; docs/ipc.md "Warm runtime"): the serving child of `hearth dev`
// also answers the CLI <-> runtime methods on a Unix socket, `<root>/.hearth/dev/runtime.sock`,
// so `hearth run` and `hearth connect` reuse its loaded runtime instead of starting one. They use
// it only when its identity (version, project, hearth.json, compiled manifest, store, environment)
// equals what a runtime child of their own would have; otherwise they start the child, silently.
#pragma once

#include "ipc/peer.hpp"
#include "runtime/link.hpp"
#include "runtime/rpc_methods.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace hearth::runtime {

/// At most this many warm connections are served at once; more are closed on accept.
inline constexpr std::size_t k_max_warm_connections = 16;
/// How long a client waits for the server's `ready` (with its identity) after connecting.
inline constexpr std::chrono::milliseconds k_warm_hello_timeout{2000};
/// Environment variables left out of the identity's environment digest: they differ between
/// shells and terminals and no runtime code reads them (docs/ipc.md "Warm runtime").
inline constexpr std::string_view k_env_noise[] = {
    "PWD", "OLDPWD", "SHLVL", "_", "TERM", "COLUMNS", "LINES",
    "HEARTH_INTERNAL_IPC", "HEARTH_NO_WARM", "HEARTH_DEBUG_WARM"};

/// `<root>/.hearth/dev`: the socket's directory (mode 0700).
std::filesystem::path warm_dir(const std::filesystem::path& root);

/// "fnv1a64:<16 hex digits>" of `bytes`: detects a difference, no cryptographic claim (the socket
/// serves only its own uid, who could run anything anyway).
std::string digest(std::string_view bytes);

/// The digest of an environment (`NAME=value` entries, e.g. environ) without k_env_noise
/// entries, order-independent.
std::string environment_digest(const std::vector<std::string>& entries);
/// The same for this process's environment now.
std::string environment_digest();

/// What makes a runtime the one a cold child would be.
struct IdentityInputs {
  std::string root{};            // the project root, absolute
  std::string config_path{};     // hearth.json (or --config) path, "" without one
  std::string config_text{};     // its bytes
  std::string manifest_text{};   // the compiled manifest's bytes, as loaded
  std::string store_location{};  // config::StoreSettings::location()
};

/// {version, binary, uid, root, config, manifest, store, env}: strings (binary: this
/// executable's path, size and mtime) (the text fields as digests, the
/// environment of this process now as environment_digest()).
nlohmann::json make_identity(const IdentityInputs& inputs);

/// Why `actual` (the server's identity) is not `expected` (ours): "" when every field of
/// `expected` is in `actual` with the same value, else e.g. "its compiled manifest differs". A
/// non-object `actual` differs.
std::string identity_mismatch(const nlohmann::json& expected, const nlohmann::json& actual);

/// The server side: the socket in `hearth dev`'s serving child. Each accepted connection is
/// checked with SO_PEERCRED (another uid is closed at once), gets `ready {pid, version, identity}`
/// and is then served like the stdio child (register_runtime_methods): its runs are not
/// resumable, and what it runs is cancelled when it ends. `shutdown` ends only that connection.
class WarmServer {
public:
  /// Serves `runtime` (which must outlive this) announcing `identity`, at
  /// `<dir>/runtime.sock`, at most `max_connections` at once.
  WarmServer(std::filesystem::path dir, Runtime& runtime, nlohmann::json identity,
             std::size_t max_connections = k_max_warm_connections);
  /// stop().
  ~WarmServer();
  WarmServer(const WarmServer&) = delete;
  WarmServer& operator=(const WarmServer&) = delete;

  /// Creates the directory (0700; refused when it is not a directory of ours), replaces a stale
  /// socket, binds (socket mode 0600), listens and starts accepting. Throws errors::io_error.
  void start();

  /// Stops accepting and removes the socket if it is still ours (a newer generation may have
  /// replaced it). Connections keep being served. Idempotent.
  void stop_accepting();

  /// Waits until no connection runs anything (their requests finished) or `deadline` passes;
  /// true when none does. Connections stay open. For the dev server's drain at a reload.
  bool drain(std::chrono::steady_clock::time_point deadline);

  /// stop_accepting(), then ends every connection: its runs and turns are cancelled, its
  /// handlers finish, it is closed. Blocks until they have. Idempotent.
  void stop();

  /// The socket's path.
  std::filesystem::path socket_path() const { return m_dir / "runtime.sock"; }

  /// Connections being served now.
  std::size_t connection_count() const;

private:
  struct Connection { // one accepted client, served on its own thread
    int fd = -1; // -1 once serve() has closed it (written under m_mutex)
    ConnectionWork work{};
    std::thread thread{};
    std::atomic<bool> done{false};
  };
  void accept_loop();
  void serve(Connection& connection);
  void reap_finished();

  std::filesystem::path m_dir;
  Runtime& m_runtime;
  nlohmann::json m_identity;
  std::size_t m_max_connections;
  int m_dir_fd = -1;
  int m_listen_fd = -1;
  int m_wake_fd = -1;
  unsigned long m_dev = 0, m_ino = 0; // the socket inode we bound
  std::thread m_acceptor{};
  mutable std::mutex m_mutex;
  std::list<std::unique_ptr<Connection>> m_connections{};
  bool m_accepting = false;
};

/// The client side: a Link over the warm socket.
class WarmClient : public Link {
public:
  /// Connects to the warm runtime of project `root` and compares its identity with `expected`.
  /// Returns null when there is none, it is not ours, it does not answer within
  /// k_warm_hello_timeout or its identity differs; `why` then says which (for
  /// HEARTH_DEBUG_WARM). Never throws for those.
  static std::unique_ptr<WarmClient> connect(const std::filesystem::path& root,
                                             const nlohmann::json& expected, std::string& why);
  ~WarmClient() override;

  void wait_ready(std::chrono::milliseconds) override {}
  nlohmann::json request(const std::string& method, const nlohmann::json& params,
                         const std::function<void(const nlohmann::json&)>& on_event) override;
  bool notify(const std::string& method, const nlohmann::json& params) override;
  /// Closes the connection: the dev server cancels what it ran for us.
  void kill() override;
  bool lost() override;
  int interrupt_socket() const override { return m_fd; } // kill() is shutdown(m_fd)

  /// The server's `ready` params {pid, version, identity}.
  const nlohmann::json& hello() const { return m_hello; }

private:
  explicit WarmClient(int fd);
  int m_fd;
  std::unique_ptr<ipc::Peer> m_peer{};
  nlohmann::json m_hello{};
};

} // namespace hearth::runtime

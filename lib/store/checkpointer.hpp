// Moves WAL checkpoints off the append path: SQLite's automatic checkpoint runs inside whichever
// commit crosses 1000 WAL pages (an fsync or two, milliseconds), which would set the append p99.
// Here the writer's WAL hook only pokes a background thread that checkpoints on its own
// connection, beside the writer (WAL allows both); only under sustained load does the writer
// finish a checkpoint itself so the WAL stays bounded. Private to lib/store.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace hearth::store {

class Checkpointer {
public:
  /// `checkpoint` runs on the background thread; its exceptions are swallowed (it is retried at
  /// the next poke). `pages` is the WAL size that triggers a checkpoint.
  Checkpointer(std::function<void()> checkpoint, int pages);
  ~Checkpointer(); // stops and joins; call detach() on the writer first
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  /// Installs the WAL hook on the writer connection `db` (replacing wal_autocheckpoint).
  void attach(sqlite3* db);
  /// Removes the hook again.
  static void detach(sqlite3* db);

private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void loop();

  // WAL size (x pages) at which the writer helps: 2 keeps the WAL within journal_size_limit (8 MiB),
  // so WAL frames overwrite allocated blocks (a growing file costs a journal commit per fsync).
  static constexpr int k_inline_factor = 2;

  std::function<void()> m_checkpoint;
  int m_pages = 1000;
  int m_next_poke = 1000; // WAL size at which the next commit pokes; only the writer touches it
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_requested = false;
  bool m_stop = false;
  std::thread m_thread; // last: starts after everything above is constructed
};

} // namespace hearth::store

// Background WAL checkpoints: see checkpointer.hpp.
#include "store/checkpointer.hpp"

#include <algorithm>

namespace hearth::store {

Checkpointer::Checkpointer(std::function<void()> checkpoint, int pages)
    : m_checkpoint(std::move(checkpoint)), m_pages(pages), m_next_poke(pages),
      m_thread([this] { loop(); }) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  m_thread.join();
}

void Checkpointer::attach(sqlite3* db) { sqlite3_wal_hook(db, &Checkpointer::on_commit, this); }

void Checkpointer::detach(sqlite3* db) { sqlite3_wal_hook(db, nullptr, nullptr); }

int Checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  auto& me = *static_cast<Checkpointer*>(self);
  if (pages < me.m_pages) {
    me.m_next_poke = me.m_pages; // the WAL restarted
    return SQLITE_OK;
  }
  if (pages >= k_inline_factor * me.m_pages) {
    // The WAL restarts from its beginning only when a write starts with every frame copied
    // back, which a background checkpoint never sees while appends arrive back to back. So
    // under sustained load the writer finishes the job itself (like SQLite's autocheckpoint,
    // but rarely, and with most frames already copied by the background thread).
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  // Past the threshold the WAL only shrinks when it restarts, so every commit would poke again
  // as soon as the last checkpoint ended: back-to-back checkpoints, two fsyncs each, more than
  // one per workflow run (issue 17 §3). Poke again once another half threshold has been added.
  if (pages < me.m_next_poke) return SQLITE_OK;
  {
    std::lock_guard lock(me.m_mutex);
    if (me.m_requested) return SQLITE_OK;
    me.m_requested = true;
  }
  me.m_next_poke = pages + std::max(1, me.m_pages / 2);
  me.m_cv.notify_one();
  return SQLITE_OK;
}

void Checkpointer::loop() {
  std::unique_lock lock(m_mutex);
  while (true) {
    m_cv.wait(lock, [&] { return m_stop || m_requested; });
    if (m_stop) return;
    lock.unlock();
    try {
      m_checkpoint();
    } catch (...) {
      // Busy or I/O trouble: the WAL only grows a little until the next poke retries.
    }
    lock.lock();
    m_requested = false;
  }
}

} // namespace hearth::store

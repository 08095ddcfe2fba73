// Approval and question requests (issue 12 §2): rows, not threads. A parked turn holds no
// process; the decision is a row update any process sharing the file may make.
#include "core/errors.hpp"
#include "core/json.hpp"
#include "store/sqlite_store.hpp"
#include "store/system.hpp"

#include <algorithm>

namespace hearth::store {
namespace {

constexpr const char* k_columns = "approval_id, owner, session, kind, tool_name, tool_call_id, "
                                  "request, status, decision, created_ms, decided_ms";

Json json_column(db::Connection& conn, db::Statement& row, int column) {
  if (row.is_null(column)) return Json();
  auto value = hearth::parse_json_or_discarded(row.text(column));
  if (value.is_discarded()) throw errors::store_corrupt(conn.path(), "a stored approval is malformed");
  return value;
}

ApprovalRecord read_row(db::Connection& conn, db::Statement& row) {
  return ApprovalRecord{.approval_id = row.text(0),
                        .owner = row.text(1),
                        .session = row.text(2),
                        .kind = row.text(3),
                        .tool_name = row.text(4),
                        .tool_call_id = row.text(5),
                        .request = json_column(conn, row, 6),
                        .status = row.text(7),
                        .decision = json_column(conn, row, 8),
                        .created_at = sys::iso_ms(row.int64(9)),
                        .decided_at = row.is_null(10) ? std::string() : sys::iso_ms(row.int64(10))};
}

std::optional<ApprovalRecord> load(db::Connection& conn, std::string_view id) {
  auto row = conn.prepare((std::string("SELECT ") + k_columns +
                           " FROM approvals WHERE approval_id = ?").c_str());
  row->bind(1, id);
  if (!row->step()) return std::nullopt;
  return read_row(conn, *row);
}

} // namespace

void SqliteStore::create_approval(const ApprovalRecord& r) {
  m_pool.write([&](db::Connection& conn) {
    conn.prepare("INSERT INTO approvals (approval_id, owner, session, kind, tool_name, "
                 "tool_call_id, request, status, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, "
                 "'pending', ?) ON CONFLICT DO NOTHING")
        ->bind(1, r.approval_id)
        .bind(2, r.owner)
        .bind(3, r.session)
        .bind(4, r.kind)
        .bind(5, r.tool_name)
        .bind(6, r.tool_call_id)
        .bind(7, hearth::dump_json(r.request))
        .bind(8, sys::now_ms())
        .run();
  });
}

std::optional<ApprovalRecord> SqliteStore::get_approval(std::string_view approval_id) {
  return m_pool.read([&](db::Connection& conn) { return load(conn, approval_id); });
}

std::vector<ApprovalRecord> SqliteStore::list_approvals(std::string_view owner,
                                                        std::string_view session,
                                                        bool pending_only) {
  return m_pool.read([&](db::Connection& conn) {
    std::string sql = std::string("SELECT ") + k_columns + " FROM approvals WHERE owner = ?1";
    if (!session.empty()) sql += " AND session = ?2";
    if (pending_only) sql += " AND status = 'pending'";
    sql += " ORDER BY created_ms DESC, approval_id DESC LIMIT 1000";
    auto row = conn.prepare(sql.c_str());
    row->bind(1, owner);
    if (!session.empty()) row->bind(2, session);
    std::vector<ApprovalRecord> out;
    while (row->step()) out.push_back(read_row(conn, *row));
    std::reverse(out.begin(), out.end());
    return out;
  });
}

bool SqliteStore::decide_approval(std::string_view approval_id, std::string_view status,
                                  const Json& decision) {
  return m_pool.write([&](db::Connection& conn) {
    if (!load(conn, approval_id)) throw errors::approval_not_found(approval_id);
    conn.prepare("UPDATE approvals SET status = ?, decision = ?, decided_ms = ? "
                 "WHERE approval_id = ? AND status = 'pending'")
        ->bind(1, status)
        .bind(2, hearth::dump_json(decision))
        .bind(3, sys::now_ms())
        .bind(4, approval_id)
        .run();
    return conn.changes() > 0;
  });
}

// --- connection credentials (issue 13 §4) ------------------------------------------------------

void SqliteStore::put_credential(std::string_view key, std::string_view secret) {
  m_pool.write([&](db::Connection& conn) {
    conn.prepare("INSERT INTO connection_credentials (key, secret, updated_ms) VALUES (?, ?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET secret = excluded.secret, "
                 "updated_ms = excluded.updated_ms")
        ->bind(1, key)
        .bind(2, secret)
        .bind(3, sys::now_ms())
        .run();
  });
}

std::optional<std::string> SqliteStore::get_credential(std::string_view key) {
  return m_pool.read([&](db::Connection& conn) -> std::optional<std::string> {
    auto row = conn.prepare("SELECT secret FROM connection_credentials WHERE key = ?");
    row->bind(1, key);
    if (!row->step()) return std::nullopt;
    return row->text(0);
  });
}

bool SqliteStore::delete_credential(std::string_view key) {
  return m_pool.write([&](db::Connection& conn) {
    conn.prepare("DELETE FROM connection_credentials WHERE key = ?")->bind(1, key).run();
    return conn.changes() > 0;
  });
}

} // namespace hearth::store

// libpq's functions as trampolines into libpq.so.5, loaded on first use (lazy_library.hpp).
// Compiled only with HEARTH_STATIC_DEPS, which then links no libpq: the declarations come from
// libpq-fe.h, so a changed signature fails to compile here. Add a function when the store or a
// benchmark starts calling one (the link names it as undefined).
#include "core/lazy_library.hpp"

#include <libpq-fe.h>

namespace {

constexpr const char* k_libpq = "libpq.so.5";

// The real function `name`, resolved once per call site.
#define HEARTH_PQ(name, ...)                                                                      \
  static const auto real = reinterpret_cast<decltype(&name)>(hearth::lazy::symbol(k_libpq, #name)); \
  return real(__VA_ARGS__)

} // namespace

extern "C" {

PGconn* PQconnectdb(const char* conninfo) { HEARTH_PQ(PQconnectdb, conninfo); }
PGconn* PQconnectdbParams(const char* const* keywords, const char* const* values, int expand) {
  HEARTH_PQ(PQconnectdbParams, keywords, values, expand);
}
void PQfinish(PGconn* conn) { HEARTH_PQ(PQfinish, conn); }
PQconninfoOption* PQconninfoParse(const char* conninfo, char** errmsg) {
  HEARTH_PQ(PQconninfoParse, conninfo, errmsg);
}
void PQconninfoFree(PQconninfoOption* options) { HEARTH_PQ(PQconninfoFree, options); }
ConnStatusType PQstatus(const PGconn* conn) { HEARTH_PQ(PQstatus, conn); }
PGTransactionStatusType PQtransactionStatus(const PGconn* conn) {
  HEARTH_PQ(PQtransactionStatus, conn);
}
char* PQerrorMessage(const PGconn* conn) { HEARTH_PQ(PQerrorMessage, conn); }
int PQsocket(const PGconn* conn) { HEARTH_PQ(PQsocket, conn); }
PQnoticeProcessor PQsetNoticeProcessor(PGconn* conn, PQnoticeProcessor proc, void* arg) {
  HEARTH_PQ(PQsetNoticeProcessor, conn, proc, arg);
}
int PQconsumeInput(PGconn* conn) { HEARTH_PQ(PQconsumeInput, conn); }
PGnotify* PQnotifies(PGconn* conn) { HEARTH_PQ(PQnotifies, conn); }
PGresult* PQexec(PGconn* conn, const char* query) { HEARTH_PQ(PQexec, conn, query); }
PGresult* PQexecParams(PGconn* conn, const char* command, int n, const Oid* types,
                       const char* const* values, const int* lengths, const int* formats,
                       int result_format) {
  HEARTH_PQ(PQexecParams, conn, command, n, types, values, lengths, formats, result_format);
}
ExecStatusType PQresultStatus(const PGresult* res) { HEARTH_PQ(PQresultStatus, res); }
char* PQresultErrorMessage(const PGresult* res) { HEARTH_PQ(PQresultErrorMessage, res); }
char* PQresultErrorField(const PGresult* res, int code) { HEARTH_PQ(PQresultErrorField, res, code); }
int PQntuples(const PGresult* res) { HEARTH_PQ(PQntuples, res); }
char* PQgetvalue(const PGresult* res, int row, int col) { HEARTH_PQ(PQgetvalue, res, row, col); }
int PQgetlength(const PGresult* res, int row, int col) { HEARTH_PQ(PQgetlength, res, row, col); }
int PQgetisnull(const PGresult* res, int row, int col) { HEARTH_PQ(PQgetisnull, res, row, col); }
char* PQcmdTuples(PGresult* res) { HEARTH_PQ(PQcmdTuples, res); }
void PQclear(PGresult* res) { HEARTH_PQ(PQclear, res); }
void PQfreemem(void* ptr) { HEARTH_PQ(PQfreemem, ptr); }

} // extern "C"

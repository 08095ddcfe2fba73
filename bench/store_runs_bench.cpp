// bench_store_runs: the store's share of a workflow run (issue 15), on SQLite and PostgreSQL, with
// one and two "replicas" (separate Store objects, as two `hearth start` processes have). One run
// here is what the runtime writes for a run of two tool steps: create_run, run_start, 2 x
// (tool_call, tool_result, checkpoint), text, run_end. Prints runs/s; nothing asserts a time.
// Usage: bench_store_runs [--runs N] [--threads T] [--pg-url URL]  (default URL:
// $HEARTH_TEST_PG_URL; without one the PostgreSQL rows are skipped). Each PostgreSQL measurement
// uses a fresh schema, dropped afterwards.
#include "store/store.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using namespace hearth::store;
using Clock = std::chrono::steady_clock;

void one_run(Store& store, const std::string& id) {
  store.create_run({.run_id = id, .workflow = "bench", .payload = {{"n", 1}}, .resumable = true});
  const auto path = "runs/" + id;
  store.append(path, {.type = "run_start", .data = {{"runId", id}}});
  for (int step = 0; step < 2; ++step) {
    store.append(path, {.type = "tool_call", .data = {{"name", "note"}, {"input", {{"step", step}}}}});
    store.append(path, {.type = "tool_result", .data = {{"name", "note"}, {"result", "noted"}}});
    store.checkpoint_run(id, 0, {{"step", step}, {"messages", Json::array({"a", "b"})}});
  }
  store.append(path, {.type = "text", .data = {{"text", "done"}}});
  store.end_run({.run_id = id, .status = RunStatus::completed, .result = "done", .fence = 0});
}

// Runs `runs` runs on `replicas` stores opened on `location`, `threads` threads each.
double measure(const std::string& location, int replicas, int threads, int runs) {
  std::vector<std::unique_ptr<Store>> stores;
  for (int r = 0; r < replicas; ++r) stores.push_back(open_store(location));
  std::atomic<int> next{0};
  const auto tag = std::to_string(std::random_device{}());
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int r = 0; r < replicas; ++r)
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, r] {
        for (int i; (i = next++) < runs;) one_run(*stores[r], "run_" + tag + "_" + std::to_string(i));
      });
  for (auto& w : workers) w.join();
  return runs / std::chrono::duration<double>(Clock::now() - start).count();
}

bool pg_exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  bool ok = PQstatus(conn) == CONNECTION_OK;
  if (ok) {
    PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
    PGresult* result = PQexec(conn, sql.c_str());
    ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
  }
  PQfinish(conn);
  return ok;
}

} // namespace

int main(int argc, char** argv) {
  int runs = 500, threads = 4;
  std::string pg_url = std::getenv("HEARTH_TEST_PG_URL") ? std::getenv("HEARTH_TEST_PG_URL") : "";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs") runs = std::atoi(argv[i + 1]);
    else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--pg-url") pg_url = argv[i + 1];
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hearth-bench-runs-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::printf("%d runs (create, 7 events, 2 checkpoints, end), %d threads per replica\n", runs,
              threads);
  std::printf("%-12s %8s %8s\n", "store", "replicas", "runs/s");
  for (int replicas : {1, 2}) {
    const auto file = dir / ("state-" + std::to_string(replicas) + ".db");
    std::printf("%-12s %8d %8.0f\n", "sqlite", replicas,
                measure("sqlite:" + file.string(), replicas, threads, runs));
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  if (pg_url.empty()) {
    std::printf("%-12s skipped: no server (HEARTH_TEST_PG_URL or --pg-url)\n", "postgresql");
    return 0;
  }
  for (int replicas : {1, 2}) {
    const auto schema = "bench_" + std::to_string(std::random_device{}());
    if (!pg_exec(pg_url, "CREATE SCHEMA " + schema)) {
      std::printf("%-12s skipped: cannot create a schema at %s\n", "postgresql", pg_url.c_str());
      return 0;
    }
    const auto url = pg_url + (pg_url.find('?') == std::string::npos ? "?" : "&") +
                     "options=-csearch_path%3D" + schema;
    const double rate = measure(url, replicas, threads, runs);
    pg_exec(pg_url, "DROP SCHEMA " + schema + " CASCADE");
    std::printf("%-12s %8d %8.0f\n", "postgresql", replicas, rate);
    std::fflush(stdout);
  }
  return 0;
}

// The dispatcher with a real runtime (mock model, memory store): outcomes are stored for replays,
// a stopped dispatcher takes no further dispatch, and access rules refuse at admission.
#include "core/error.hpp"
#include "runtime/runtime.hpp"
#include "store/store.hpp"
#include "support/temp_project.hpp"
#include "triggers/dispatcher.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <vector>

using namespace hearth;
using nlohmann::json;

namespace {

struct DispatchFixture {
  TempProject project;
  std::unique_ptr<store::Store> store = store::open_store("memory:");
  std::vector<std::function<void()>> tasks; // what the dispatcher submitted, not yet run
  runtime::Runtime rt{runtime::Program{.root_agent = "assistant",
                                       .agents = {{.name = "assistant", .model = "mock/echo",
                                                   .instructions = "You echo.",
                                                   .access = {{"kinds", {"service"}}}}}},
                      runtime::RuntimeContext{.project_root = project.root()}, *store};
  triggers::Dispatcher dispatcher{rt, [this](std::function<void()> task) { tasks.push_back(std::move(task)); }};

  void run_tasks() {
    while (!tasks.empty()) {
      auto task = std::move(tasks.front());
      tasks.erase(tasks.begin());
      task();
    }
  }
};

const json k_service = {{"id", "ci"}, {"kind", "service"}};

} // namespace

TEST_SUITE("triggers") {
  TEST_CASE("a dispatch's outcome is stored; wait_finished returns it") {
    DispatchFixture f;
    const auto receipt = f.dispatcher.dispatch({.agent = "assistant", .instance_id = "i",
                                                .input = "hello", .idempotency_key = "k",
                                                .source = "test", .invoker = k_service,
                                                .receipt = {{"offset", "0000000000000007"}}});
    CHECK(receipt["offset"] == "0000000000000007"); // the first answer's extras come back
    f.run_tasks();
    const auto done = f.dispatcher.wait_finished(receipt["dispatchId"], std::chrono::milliseconds(0));
    REQUIRE(done.has_value());
    CHECK(done->status == "done");
    CHECK(done->outcome["result"]["text"] == "hello");
  }

  TEST_CASE("after stop() no drain takes another dispatch; they stay queued for the next start") {
    DispatchFixture f;
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i)
      ids.push_back(f.dispatcher.dispatch({.agent = "assistant", .instance_id = "same",
                                           .input = "m" + std::to_string(i), .source = "test",
                                           .invoker = k_service})["dispatchId"]);
    REQUIRE(f.tasks.size() == 1); // one drain for the instance
    f.dispatcher.stop();
    f.run_tasks(); // before: the drain ran all three at shutdown
    for (const auto& id : ids) CHECK(f.store->get_dispatch(id)->status == "queued");
    try {
      f.dispatcher.dispatch({.agent = "assistant", .instance_id = "same", .input = "late",
                             .source = "test", .invoker = k_service});
      FAIL("admitted after stop()");
    } catch (const Error& e) {
      CHECK(e.info().http_status == 503);
    }
  }

  TEST_CASE("a channel's invocation is checked against the agent's access rules") {
    DispatchFixture f;
    CHECK(f.dispatcher.invocation("", k_service).invoker["id"] == "ci");
    try {
      f.dispatcher.invocation("assistant", {{"id", "github"}, {"kind", "channel"}});
      FAIL("a refused invoker was admitted");
    } catch (const Error& e) {
      CHECK(e.info().http_status == 403);
    }
  }
}

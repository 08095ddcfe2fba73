// Flue 0.11's routes (seed page 17; peers/flue/REPORT.md §3): workflow admission, run and agent
// Durable Streams reads, agent prompts, and the OpenAPI document. Both 0.11's shapes and the
// seed's are sent where they differ (202 bodies carry `status` and `streamUrl`/`offset`).
#include "core/errors.hpp"
#include "core/ids.hpp"
#include "core/json.hpp"
#include "runtime/access.hpp"
#include "runtime/runtime.hpp"
#include "server/context.hpp"
#include "server/durable_streams.hpp"
#include "store/store.hpp"
#include "triggers/dispatcher.hpp"
#include "triggers/signatures.hpp"

#include <cctype>

namespace hearth::server {
namespace {

/// Idempotency-Key: bytes at most (the store's key adds the invoker scope).
constexpr std::size_t k_max_idempotency_key = 256;
/// `?wait=result` with an Idempotency-Key: how long the answer waits for the dispatch's turn
/// (then 202 with the receipt; the turn goes on).
constexpr auto k_max_dispatch_wait = std::chrono::minutes(10);

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Flue: a body needs `Content-Type: application/json` (parameters allowed); none is fine.
void require_json_content(const Request& req) {
  if (req.body.empty()) return;
  const auto type = req.get_header_value("Content-Type");
  const auto base = lower(type.substr(0, type.find(';')));
  auto trimmed = base;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.pop_back();
  if (trimmed != "application/json" && !(trimmed.size() > 5 && trimmed.rfind("+json") ==
                                                                   trimmed.size() - 5))
    throw errors::unsupported_media_type(type);
}

/// `?wait=result` -> true; absent -> false; anything else -> 400.
bool wait_for_result(const Request& req) {
  if (!req.has_param("wait")) return false;
  if (req.get_param_value("wait") == "result") return true;
  throw errors::invalid_request("Invalid query parameters: \"wait\" must be \"result\".");
}

const runtime::WorkflowDef& http_workflow(const runtime::Runtime& rt, const std::string& name) {
  std::vector<std::string> exposed;
  for (const auto& w : rt.program().workflows)
    if (w.http) exposed.push_back(w.name);
  for (const auto& w : rt.program().workflows)
    if (w.name == name && w.http) return w;
  throw errors::workflow_not_found(name, exposed);
}

const runtime::AgentDef& http_agent(const runtime::Runtime& rt, const std::string& name) {
  std::vector<std::string> exposed;
  for (const auto& a : rt.program().agents)
    if (a.http) exposed.push_back(a.name);
  for (const auto& a : rt.program().agents)
    if (a.name == name && a.http) return a;
  throw errors::agent_not_found(name, exposed);
}

json error_json(const Error& e) {
  return {{"type", e.info().type}, {"message", e.info().message}, {"details", e.info().details}};
}

/// Runs an admitted workflow to the end on the executor; any failure only errors the run.
void execute_in_background(ServerContext& ctx, const std::string& run_id) {
  auto& rt = ctx.runtime;
  auto end_errored = [&rt, run_id](const Error& e) {
    try {
      rt.store().end_run({.run_id = run_id, .status = store::RunStatus::errored,
                          .error = error_json(e)});
    } catch (...) { // the store is failing too; recover_abandoned_runs() settles it later
    }
  };
  try {
    ctx.executor.submit([&rt, run_id, end_errored] {
      try {
        rt.execute_run(run_id, "", {});
      } catch (const Error&) { // execute_run ended the run as errored already
      } catch (const std::exception& e) {
        end_errored(errors::internal_error(e.what()));
      }
    });
  } catch (const Error& e) {
    end_errored(e);
    throw;
  }
}

/// A valid W3C `traceparent` of the caller continues its trace in `stream`; garbage is ignored.
void continue_caller_trace(const Request& req, runtime::Runtime& rt, const std::string& stream) {
  if (const auto parent = runtime::parse_traceparent(req.get_header_value("traceparent")))
    rt.continue_trace(stream, *parent);
}

void post_workflow(const Request& req, Response& res, ServerContext& ctx) {
  const auto& def = http_workflow(ctx.runtime, req.matches[1]);
  const bool wait = wait_for_result(req);
  require_json_content(req);
  const auto payload = parse_body(req, json::object());
  const auto run_id = ctx.runtime.admit_run(def.name, payload, current_auth().invoker.to_json());
  continue_caller_trace(req, ctx.runtime, "runs/" + run_id);
  const auto stream_url = base_url(req, ctx) + "/runs/" + run_id;
  const std::string offset = store::format_offset(-1);
  res.set_header("X-Flue-Run-Id", run_id);
  res.set_header("Location", stream_url);
  res.set_header("Stream-Next-Offset", offset);
  if (!wait) {
    execute_in_background(ctx, run_id);
    send_json(res, 202, {{"status", "accepted"}, {"runId", run_id}, {"streamUrl", stream_url},
                         {"offset", offset}});
    return;
  }
  json result;
  try {
    result = ctx.runtime.execute_run(run_id, "", {});
  } catch (const Error& e) {
    render_error(req, res, ctx, e, 500); // typed, as the seed has it; the run is errored
    return;
  }
  send_json(res, 200, {{"result", result}, {"runId", run_id}, {"streamUrl", stream_url},
                       {"offset", offset}, {"_meta", {{"runId", run_id}}}});
}

void get_run(const Request& req, Response& res, ServerContext& ctx) {
  const std::string run_id = req.matches[1];
  if (req.has_param("meta")) {
    const auto run = ctx.runtime.store().get_run(run_id);
    if (!run) throw errors::run_not_found(run_id);
    res.set_header("cache-control", "no-store");
    send_json(res, 200, store::to_json(*run));
    return;
  }
  serve_stream(req, res, ctx, "runs/" + run_id, errors::run_not_found(run_id));
}

/// Flue 0.11's read-only admin mount (what `@flue/sdk` `runs.get` and `admin.*` call).
json run_pointer(const store::RunRecord& run) {
  json out = store::to_json(run);
  for (const char* key : {"payload", "result", "error"}) out.erase(key);
  return out;
}

void admin_runs(const Request& req, Response& res, ServerContext& ctx) {
  store::RunQuery query;
  query.summary = true; // run_pointer() drops payload/result/error anyway: never load them
  if (req.has_param("limit")) {
    const auto text = req.get_param_value("limit");
    if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(text) < 1 || std::stoi(text) > static_cast<int>(store::k_max_run_list))
      throw errors::invalid_request("Invalid limit. Use an integer from 1 to 1000.");
    query.limit = static_cast<std::size_t>(std::stoi(text));
  }
  if (req.has_param("status")) {
    const auto status = req.get_param_value("status");
    if (status == "active") query.status = store::RunStatus::active;
    else if (status == "completed") query.status = store::RunStatus::completed;
    else if (status == "errored") query.status = store::RunStatus::errored;
    else throw errors::invalid_request("Invalid status. Use active, completed or errored.");
  }
  if (req.has_param("workflowName")) query.workflow = req.get_param_value("workflowName");
  json items = json::array();
  for (const auto& run : ctx.runtime.store().list_runs(query)) items.push_back(run_pointer(run));
  res.set_header("cache-control", "no-store");
  send_json(res, 200, {{"items", items}});
}

void admin_agents(Response& res, ServerContext& ctx) {
  json items = json::array();
  for (const auto& a : ctx.runtime.program().agents) {
    json entry = {{"name", a.name}, {"transports", json::object()}, {"created", true}};
    if (a.http) entry["transports"]["http"] = true;
    items.push_back(entry);
  }
  send_json(res, 200, {{"items", items}});
}

std::string agent_message(const json& body) {
  if (!body.is_object() || !body.contains("message") || !body["message"].is_string() ||
      (body.contains("images") && !body["images"].is_array()))
    throw errors::invalid_request("Direct agent requests must use JSON object body { \"message\": "
                                  "string, \"images\"?: image[] }.");
  return body["message"].get<std::string>();
}

void post_agent(const Request& req, Response& res, ServerContext& ctx) {
  const auto& agent = http_agent(ctx.runtime, req.matches[1]);
  const std::string instance = req.matches[2];
  const bool wait = wait_for_result(req);
  require_json_content(req);
  const auto body = parse_body(req, json());
  const auto message = agent_message(body);
  const auto invocation =
      agent_invocation(agent, body.is_object() ? body.value("context", json()) : json());
  auto& store = ctx.runtime.store();
  const auto path = runtime::Runtime::agent_stream(agent.name, instance);
  if (const auto key = req.get_header_value("Idempotency-Key"); !key.empty()) {
    // Durable dispatch (docs/triggers.md): admitted in one transaction, processed in admission
    // order; the same key and message replay the first answer, a different message is 409.
    if (key.size() > k_max_idempotency_key)
      throw errors::invalid_request("The Idempotency-Key header must be at most 256 characters.");
    const auto info = store.stream_info(path);
    const auto stream_url = base_url(req, ctx) + "/agents/" + agent.name + "/" + instance;
    // Keys are the caller's: scoped by the resolved invoker, so two callers using one key never
    // collide nor read each other's receipts.
    const auto scope = triggers::sha256_hex(hearth::dump_json(
        json{{"kind", invocation.invoker.value("kind", "")}, {"id", invocation.invoker.value("id", "")}}));
    const auto receipt = ctx.dispatcher->dispatch(
        {.agent = agent.name, .instance_id = instance, .input = message,
         .idempotency_key = "http:" + scope.substr(0, 32) + ":" + key, .source = "http",
         .invoker = invocation.invoker, .context = invocation.context,
         .receipt = {{"streamUrl", stream_url},
                     {"offset", store::format_offset(info ? info->last_seq : -1)}}});
    res.set_header("Location", receipt.value("streamUrl", stream_url));
    res.set_header("Stream-Next-Offset", receipt.value("offset", ""));
    if (wait) { // the first request and its replays wait for the one turn's outcome
      const auto done = ctx.dispatcher->wait_finished(receipt.value("dispatchId", ""),
                                                      k_max_dispatch_wait);
      if (done && done->status == "done") {
        json out = receipt;
        out["result"] = done->outcome.value("result", json());
        send_json(res, 200, out);
        return;
      }
      if (done) { // errored: the turn's error, as the synchronous route answers it
        const auto e = done->outcome.value("error", json::object());
        render_error(req, res, ctx,
                     Error({.type = e.value("type", "internal_error"),
                            .message = e.value("message", "The dispatched turn failed."),
                            .details = "The dispatch " + receipt.value("dispatchId", "") +
                                       " ended errored; its events are on the stream."}),
                     500);
        return;
      }
    }
    send_json(res, 202, receipt);
    return;
  }
  store.create_stream(path); // readers see the stream from admission on, never a 404 race
  continue_caller_trace(req, ctx.runtime, path);
  const auto info = store.stream_info(path);
  const auto offset = store::format_offset(info ? info->last_seq : -1);
  const auto submission_id = ids::make_id("sub");
  store.create_submission(submission_id, path);
  const auto stream_url = base_url(req, ctx) + "/agents/" + agent.name + "/" + instance;
  auto& rt = ctx.runtime;
  auto run = [&rt, name = agent.name, instance, message, submission_id, invocation]() {
    rt.store().set_submission_status(submission_id, store::SubmissionStatus::running);
    try {
      auto out = rt.prompt_agent(name, instance, "default", message, json(), "", {},
                                 invocation.invoker, invocation.context);
      rt.store().set_submission_status(submission_id, store::SubmissionStatus::done);
      return out;
    } catch (...) {
      rt.store().set_submission_status(submission_id, store::SubmissionStatus::errored);
      throw;
    }
  };
  res.set_header("Location", stream_url);
  res.set_header("Stream-Next-Offset", offset);
  if (!wait) {
    ctx.executor.submit([run] { run(); });
    send_json(res, 202, {{"streamUrl", stream_url}, {"offset", offset},
                         {"submissionId", submission_id}});
    return;
  }
  json result;
  try {
    result = run();
  } catch (const Error& e) {
    render_error(req, res, ctx, e, 500);
    return;
  }
  send_json(res, 200, {{"result", result}, {"streamUrl", stream_url}, {"offset", offset},
                       {"submissionId", submission_id}});
}

void agent_route(const Request& req, Response& res, ServerContext& ctx) {
  if (req.method == "POST") return post_agent(req, res, ctx);
  const auto& agent = http_agent(ctx.runtime, req.matches[1]);
  agent_invocation(agent, json()); // reading the stream needs the agent's access rules (403)
  const auto path = runtime::Runtime::agent_stream(agent.name, req.matches[2]);
  serve_stream(req, res, ctx, path, errors::event_stream_not_found(path));
}

json error_response(const std::string& description) {
  const json error_schema = {
      {"type", "object"},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"properties", {{"type", {{"type", "string"}}}, {"message", {{"type", "string"}}},
                          {"details", {{"type", "string"}}}, {"dev", {{"type", "string"}}}}},
          {"required", {"type", "message", "details"}}}}}},
      {"required", {"error"}}};
  return {{"description", description},
          {"content", {{"application/json", {{"schema", error_schema}}}}}};
}

json openapi(const runtime::Runtime& rt) {
  std::vector<std::string> workflows, agents;
  for (const auto& w : rt.program().workflows)
    if (w.http) workflows.push_back(w.name);
  for (const auto& a : rt.program().agents)
    if (a.http) agents.push_back(a.name);
  json errors_common = {{"400", error_response("Validation or request-shape error.")},
                        {"404", error_response("Resource or route not found.")},
                        {"405", error_response("Method not allowed.")},
                        {"415", error_response("Unsupported media type.")},
                        {"500", error_response("Internal error.")}};
  const json wait_param = {{"name", "wait"}, {"in", "query"}, {"required", false},
                           {"schema", {{"type", "string"}, {"enum", {"result"}}}}};
  json paths = json::object();
  if (!workflows.empty()) {
    json responses = errors_common;
    responses["202"] = {
        {"description", "Workflow run accepted."},
        {"content", {{"application/json", {{"schema",
            {{"type", "object"},
             {"properties", {{"status", {{"const", "accepted"}}}, {"runId", {{"type", "string"}}},
                             {"streamUrl", {{"type", "string"}}}, {"offset", {{"type", "string"}}}}},
             {"required", {"runId", "streamUrl", "offset"}}}}}}}}};
    responses["200"] = {
        {"description", "Synchronous workflow result (?wait=result)."},
        {"content", {{"application/json", {{"schema",
            {{"type", "object"},
             {"properties", {{"result", json::object()}, {"runId", {{"type", "string"}}},
                             {"streamUrl", {{"type", "string"}}}, {"offset", {{"type", "string"}}},
                             {"_meta", {{"type", "object"},
                                        {"properties", {{"runId", {{"type", "string"}}}}}}}}},
             {"required", {"result", "runId"}}}}}}}}};
    paths["/workflows/{name}"] = {
        {"post",
         {{"operationId", "invokeWorkflow"},
          {"tags", {"workflows"}},
          {"summary", "Start a workflow run"},
          {"description", "Starts the named HTTP-exposed workflow. By default returns an accepted "
                          "run (202); use ?wait=result for a synchronous JSON result. Observe run "
                          "events via the Durable Streams GET endpoint at /runs/:runId."},
          {"x-flue-invocation-modes", {"accepted", "wait-result"}},
          {"parameters", {{{"name", "name"}, {"in", "path"}, {"required", true},
                           {"schema", {{"type", "string"}, {"enum", workflows}}}},
                          wait_param}},
          {"requestBody",
           {{"required", false},
            {"content", {{"application/json",
                          {{"schema", {{"type", "object"}, {"additionalProperties", true}}}}}}}}},
          {"responses", responses}}}};
  }
  if (!agents.empty()) {
    json responses = errors_common;
    responses["202"] = {
        {"description", "Prompt admitted."},
        {"content", {{"application/json", {{"schema",
            {{"type", "object"},
             {"properties", {{"streamUrl", {{"type", "string"}}}, {"offset", {{"type", "string"}}},
                             {"submissionId", {{"type", "string"}}}}},
             {"required", {"streamUrl", "offset"}}}}}}}}};
    responses["200"] = {
        {"description", "Synchronous prompt result (?wait=result)."},
        {"content", {{"application/json", {{"schema",
            {{"type", "object"},
             {"properties", {{"result", json::object()}, {"streamUrl", {{"type", "string"}}},
                             {"offset", {{"type", "string"}}}}},
             {"required", {"result", "streamUrl", "offset"}}}}}}}}};
    paths["/agents/{name}/{id}"] = {
        {"post",
         {{"operationId", "invokeAgent"},
          {"tags", {"agents"}},
          {"summary", "Prompt an agent instance"},
          {"description", "Sends a message to an HTTP-exposed agent instance. Read its events via "
                          "the Durable Streams GET endpoint at the same URL."},
          {"x-flue-invocation-modes", {"accepted", "wait-result"}},
          {"parameters", {{{"name", "name"}, {"in", "path"}, {"required", true},
                           {"schema", {{"type", "string"}, {"enum", agents}}}},
                          {{"name", "id"}, {"in", "path"}, {"required", true},
                           {"schema", {{"type", "string"}, {"minLength", 1}}}},
                          wait_param}},
          {"requestBody",
           {{"required", true},
            {"content", {{"application/json", {{"schema",
                {{"type", "object"},
                 {"properties", {{"message", {{"type", "string"}}},
                                 {"images", {{"type", "array"}}}}},
                 {"required", {"message"}}}}}}}}}},
          {"responses", responses}}}};
  }
  return {{"openapi", "3.1.0"},
          {"info", {{"title", "Flue Public API"},
                    {"description", "Public agent invocation and workflow run API (hearth)."},
                    {"version", HEARTH_VERSION}}},
          {"servers", json::array()},
          {"components", json::object()},
          {"paths", paths}};
}

// approvals ------------------------------------------------------------------------------------
// POST /agents/:name/:id/approvals/:approvalId and POST /runs/:runId/approvals/:approvalId with
// {"decision": "approve" | "deny", "reason"?} (questions: {"answer": string}); docs/http.md.

runtime::InputAnswer decision_body(const Request& req, const store::ApprovalRecord& record) {
  require_json_content(req);
  const auto body = parse_body(req, json());
  if (!body.is_object()) throw errors::approval_decision_invalid("the body must be a JSON object.");
  runtime::InputAnswer answer{.request_id = record.approval_id};
  if (body.contains("reason")) {
    if (!body["reason"].is_string()) throw errors::approval_decision_invalid("\"reason\" must be a string.");
    answer.reason = body["reason"].get<std::string>().substr(0, 2000);
  }
  if (record.kind == "question") {
    // An option by id (an MCP elicitation's decline / cancel / accept), as Eve's optionId.
    if (body.contains("optionId") && body["optionId"].is_string() && !body.contains("answer")) {
      answer.option_id = body["optionId"].get<std::string>().substr(0, 200);
      answer.answer = answer.option_id;
      return answer;
    }
    if (!body.contains("answer") || !body["answer"].is_string())
      throw errors::approval_decision_invalid("a question takes {\"answer\": string}.");
    answer.answer = body["answer"].get<std::string>().substr(0, 20000);
    return answer;
  }
  const auto decision = body.contains("decision") && body["decision"].is_string()
                            ? body["decision"].get<std::string>() : std::string();
  if (decision != "approve" && decision != "deny")
    throw errors::approval_decision_invalid("\"decision\" must be \"approve\" or \"deny\".");
  answer.decision = decision;
  return answer;
}

json decision_reply(const store::ApprovalRecord& record) {
  json out = {{"approvalId", record.approval_id}, {"status", record.status},
              {"toolName", record.tool_name}, {"toolCallId", record.tool_call_id}};
  if (record.decision.is_object()) {
    for (const char* key : {"decision", "reason", "answer"})
      if (record.decision.contains(key)) out[key] = record.decision[key];
  }
  return out;
}

/// The request `id` of stream `owner`, pending; else 404 / 409.
store::ApprovalRecord pending_approval(ServerContext& ctx, const std::string& owner,
                                       const std::string& id) {
  const auto record = ctx.runtime.store().get_approval(id);
  if (!record || record->owner != owner) throw errors::approval_not_found(id);
  if (record->status != "pending") throw errors::approval_already_decided(id, record->status);
  return *record;
}

void decide_agent_approval(const Request& req, Response& res, ServerContext& ctx) {
  const auto& agent = http_agent(ctx.runtime, req.matches[1]);
  const std::string instance = req.matches[2];
  const auto owner = runtime::Runtime::agent_stream(agent.name, instance);
  const auto invoker = agent_invocation(agent, json()).invoker; // the family's access rules (403)
  const auto record = pending_approval(ctx, owner, req.matches[3]);
  auto answer = decision_body(req, record);
  answer.invoker = invoker;
  const auto decided = ctx.runtime.answer_input(owner, answer);
  // The parked turn resumes on the executor once nothing else is pending; its events follow on
  // the agent stream.
  auto& rt = ctx.runtime;
  if (runtime::is_live_request(record)) { // a running tool call's question: nothing parked
    send_json(res, 200, decision_reply(decided));
    return;
  }
  try {
    ctx.executor.submit([&rt, name = agent.name, instance, session = decided.session, invoker] {
      try {
        rt.resume_session(name, instance, session, {}, invoker);
      } catch (const std::exception&) { // recorded on the stream (operation isError)
      }
    });
  } catch (const Error&) {
    // The decision is recorded (the answer says so); with the executor full the session stays
    // parked until its next message or decision, which resumes it (Runtime::resume_session).
  }
  send_json(res, 200, decision_reply(decided));
}

void decide_run_approval(const Request& req, Response& res, ServerContext& ctx) {
  const std::string run_id = req.matches[1];
  const auto run = ctx.runtime.store().get_run(run_id);
  if (!run) throw errors::run_not_found(run_id);
  // Who may start the workflow over HTTP may decide its runs' requests: the same checks as
  // admission (http: true, profiles, invoker.resolve, access rules).
  const auto& def = http_workflow(ctx.runtime, run->workflow);
  const auto& auth = current_auth();
  const auto invocation = ctx.runtime.workflow_invocation(def.name, auth.invoker.to_json(),
                                                          json(), auth.select_profiles);
  const auto owner = "runs/" + run_id;
  const auto record = pending_approval(ctx, owner, req.matches[2]);
  auto answer = decision_body(req, record);
  answer.invoker = invocation.invoker;
  // The run waits in-process for this row (Runtime::wait_for_route_approvals).
  send_json(res, 200, decision_reply(ctx.runtime.answer_input(owner, answer)));
}

} // namespace

void mount_flue(Router& router, ServerContext& ctx) {
  // approvals: a workflow run served here waits in-process for its decision route, at most an
  // hour (not durable across restarts; issue 15).
  ctx.runtime.wait_for_route_approvals(std::chrono::hours(1));
  router.add("/workflows/:name", {"POST"},
             [&ctx](const Request& req, Response& res) { post_workflow(req, res, ctx); });
  router.add("/runs/:runId", {"GET", "HEAD"},
             [&ctx](const Request& req, Response& res) { get_run(req, res, ctx); });
  router.add("/agents/:name/:id", {"GET", "HEAD", "POST"},
             [&ctx](const Request& req, Response& res) { agent_route(req, res, ctx); });
  router.add("/agents/:name/:id/approvals/:approvalId", {"POST"},
             [&ctx](const Request& req, Response& res) { decide_agent_approval(req, res, ctx); });
  router.add("/runs/:runId/approvals/:approvalId", {"POST"},
             [&ctx](const Request& req, Response& res) { decide_run_approval(req, res, ctx); });
  router.add("/admin/runs/:runId", {"GET", "HEAD"}, [&ctx](const Request& req, Response& res) {
    const std::string run_id = req.matches[1];
    const auto run = ctx.runtime.store().get_run(run_id);
    if (!run) throw errors::run_not_found(run_id);
    res.set_header("cache-control", "no-store");
    send_json(res, 200, store::to_json(*run));
  });
  router.add("/admin/runs", {"GET", "HEAD"},
             [&ctx](const Request& req, Response& res) { admin_runs(req, res, ctx); });
  router.add("/admin/agents", {"GET", "HEAD"},
             [&ctx](const Request&, Response& res) { admin_agents(res, ctx); });
  router.add("/openapi.json", {"GET", "HEAD"}, [&ctx](const Request&, Response& res) {
    send_json(res, 200, openapi(ctx.runtime));
  });
}

} // namespace hearth::server

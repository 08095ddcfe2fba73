// Eve 0.80.1's inspection document (`GET /eve/v1/info`, peers/eve/REPORT.md §5).
#pragma once

#include "runtime/runtime.hpp"

#include <nlohmann/json.hpp>

namespace hearth::mcp {
class Pool;
}

namespace hearth::server {

/// `{"kind":"eve-agent-info","version":5,"mode","agent":{name,nodeId,agentRoot,appRoot,config,
/// model{id,routing,endpoint}},"tools","skills","subagents","instructions",...}` for the root agent
/// of `program`, shaped to pass eve/client's strict (zod) schema of version 5. Reads each skill's
/// Markdown for `skills.static[].markdown`. `dev` selects "development" and devRoutes.
/// `connections` (the runtime's MCP pool, or null) adds each connection's live `state`, `tools`
/// count and `lastError` (issue 13; docs/mcp.md).
nlohmann::json eve_info_document(const runtime::Program& program, bool dev,
                                 const mcp::Pool* connections = nullptr);

} // namespace hearth::server

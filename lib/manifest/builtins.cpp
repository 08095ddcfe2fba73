// The built-in tool table; see builtins.hpp. The one place a built-in's schema is written: the
// runtime's tools (runtime/file_tools.cpp, agent_tools.cpp, harness.cpp) take theirs from here, and
// tests/unit/runtime/builtin_schemas_test.cpp checks that what the harness offers and validates is
// this table. Names and shapes follow Eve's built-ins (peers/eve transcripts/cli/info_json.txt)
// where hearth implements the same parameters; paths are `path`, workspace-relative.
#include "manifest/builtins.hpp"

#include <stdexcept>
#include <string>

namespace hearth::manifest {

const nlohmann::json& builtin_tools() {
  static const nlohmann::json tools = nlohmann::json::parse(R"([
  {"name": "read_file",
   "description": "Read a text file from the session workspace. Returns its lines; pass offset and limit to read a part.",
   "inputSchema": {"type": "object", "properties": {
     "path": {"type": "string", "description": "Path of the file, relative to the workspace (or absolute inside /workspace)."},
     "offset": {"type": "integer", "minimum": 1, "description": "1-based line number to start from. Defaults to 1."},
     "limit": {"type": "integer", "minimum": 1, "description": "Maximum number of lines to return. Defaults to 2000."}},
     "required": ["path"], "additionalProperties": false}},
  {"name": "write_file",
   "description": "Create or replace a file in the session workspace with the given content.",
   "inputSchema": {"type": "object", "properties": {
     "path": {"type": "string", "description": "Path of the file, relative to the workspace (or absolute inside /workspace)."},
     "content": {"type": "string", "description": "Complete replacement file contents."}},
     "required": ["path", "content"], "additionalProperties": false}},
  {"name": "glob",
   "description": "List workspace files matching a glob pattern such as **/*.md.",
   "inputSchema": {"type": "object", "properties": {
     "pattern": {"type": "string", "description": "Glob pattern, relative to the workspace root; ** crosses directories."}},
     "required": ["pattern"], "additionalProperties": false}},
  {"name": "grep",
   "description": "Search workspace files for lines matching a regular expression.",
   "inputSchema": {"type": "object", "properties": {
     "pattern": {"type": "string", "description": "Regular expression (ECMAScript) to search for."},
     "path": {"type": "string", "description": "File or directory to search. Defaults to the workspace root."},
     "include": {"type": "string", "description": "Only search files whose path or name matches this glob."}},
     "required": ["pattern"], "additionalProperties": false}},
  {"name": "bash",
   "description": "Run a shell command with bash in the session workspace. Returns the exit code, stdout and stderr.",
   "inputSchema": {"type": "object", "properties": {
     "command": {"type": "string", "description": "The shell command to execute."},
     "timeoutMs": {"type": "integer", "minimum": 1, "description": "Stop the command after this many milliseconds. Defaults to 120000."}},
     "required": ["command"], "additionalProperties": false}},
  {"name": "load_skill",
   "description": "Load the full instructions of one of your skills by name (see the skill catalog in the system prompt).",
   "inputSchema": {"type": "object", "properties": {
     "name": {"type": "string", "description": "The skill name."}},
     "required": ["name"], "additionalProperties": false}},
  {"name": "ask_question",
   "description": "Ask the user a question and wait for the answer.",
   "inputSchema": {"type": "object", "properties": {
     "question": {"type": "string", "minLength": 1, "maxLength": 2000},
     "options": {"type": "array", "minItems": 2, "maxItems": 3, "items": {"type": "object",
       "properties": {"label": {"type": "string", "maxLength": 80}, "description": {"type": "string", "maxLength": 200}},
       "required": ["label", "description"], "additionalProperties": false}}},
     "required": ["question"], "additionalProperties": false}},
  {"name": "agent",
   "description": "Delegate a focused subtask to a copy of yourself. Use it to isolate complex work or split a large task into independent pieces. The child has fresh history but reuses your instructions, tools and workspace, so give parallel writers non-overlapping scopes. It does not see this conversation: in message, state the goal, everything it needs, what to return, and whether it may change files. Its answer is this tool's result.",
   "inputSchema": {"type": "object", "properties": {
     "message": {"type": "string", "description": "The message to send to the agent, with everything it needs to do the work."}},
     "required": ["message"], "additionalProperties": false}}
])");
  return tools;
}

const nlohmann::json& builtin_tool(std::string_view name) {
  for (const auto& tool : builtin_tools())
    if (tool["name"].get_ref<const std::string&>() == name) return tool;
  throw std::out_of_range("no built-in tool named " + std::string(name));
}

const nlohmann::json& subagent_tool_schema() {
  static const nlohmann::json schema = nlohmann::json::parse(R"({
  "type": "object",
  "properties": {
    "message": {"type": "string", "description": "The message to send to the subagent, with everything it needs to do the work."},
    "outputSchema": {"type": "object", "description": "Optional JSON Schema the subagent's answer must satisfy."}},
  "required": ["message"], "additionalProperties": false})");
  return schema;
}

} // namespace hearth::manifest

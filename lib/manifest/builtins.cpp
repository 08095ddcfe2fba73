// The built-in tool catalogue (ARCHITECTURE.md §5): names, descriptions and input schemas the
// runtime implements and the manifest advertises. Schemas follow Eve's captured shapes
// (peers/eve transcripts/cli/info_json.txt) with hearth's workspace-relative paths.
#include "manifest/manifest.hpp"

namespace hearth::manifest {

const nlohmann::json& builtin_tools() {
  static const nlohmann::json tools = nlohmann::json::parse(R"([
  {"name": "read_file",
   "description": "Read a text file from the session workspace. Returns numbered lines.",
   "inputSchema": {"type": "object", "properties": {
     "filePath": {"type": "string", "description": "Path of the file, relative to the workspace or absolute inside it."},
     "offset": {"type": "integer", "minimum": 1, "description": "1-based line number to start from. Defaults to 1."},
     "limit": {"type": "integer", "minimum": 1, "description": "Maximum number of lines to return. Defaults to 2000."}},
     "required": ["filePath"], "additionalProperties": false}},
  {"name": "write_file",
   "description": "Create or replace a file in the session workspace.",
   "inputSchema": {"type": "object", "properties": {
     "filePath": {"type": "string", "description": "Path of the file, relative to the workspace or absolute inside it."},
     "content": {"type": "string", "description": "Complete replacement file contents."}},
     "required": ["filePath", "content"], "additionalProperties": false}},
  {"name": "glob",
   "description": "List workspace files matching a glob pattern.",
   "inputSchema": {"type": "object", "properties": {
     "pattern": {"type": "string", "description": "Glob pattern, e.g. **/*.md."},
     "path": {"type": "string", "description": "Directory to search from. Defaults to the workspace root."},
     "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Maximum number of paths."}},
     "required": ["pattern"], "additionalProperties": false}},
  {"name": "grep",
   "description": "Search workspace files for a regular expression.",
   "inputSchema": {"type": "object", "properties": {
     "pattern": {"type": "string", "description": "Regular expression to search for."},
     "path": {"type": "string", "description": "File or directory to search. Defaults to the workspace root."},
     "glob": {"type": "string", "description": "Only search files matching this glob."},
     "ignoreCase": {"type": "boolean"},
     "literal": {"type": "boolean", "description": "Treat the pattern as a literal string."},
     "context": {"type": "integer", "minimum": 0, "description": "Lines of context around each match."},
     "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "Maximum number of matches."}},
     "required": ["pattern"], "additionalProperties": false}},
  {"name": "bash",
   "description": "Run a shell command in the session workspace.",
   "inputSchema": {"type": "object", "properties": {
     "command": {"type": "string", "description": "The shell command to execute."}},
     "required": ["command"], "additionalProperties": false}},
  {"name": "load_skill",
   "description": "Load a skill's instructions by name (see the skill catalog in the system prompt).",
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
     "required": ["question"], "additionalProperties": false}}
])");
  return tools;
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

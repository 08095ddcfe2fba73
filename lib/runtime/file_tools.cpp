// Built-in file tools; see file_tools.hpp. Paths are workspace-relative in every result.
#include "runtime/file_tools.hpp"
#include "runtime/agent_tools.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "sandbox/workspace.hpp"

#include <fnmatch.h>
#include <fstream>
#include <regex>
#include <sstream>

namespace hearth::runtime {
namespace {
namespace stdfs = std::filesystem;
using nlohmann::json;

ToolOutcome error(std::string text) { return {.text = std::move(text), .is_error = true}; }

/// Runs `body`, turning hearth::Error (a path outside the workspace, an unreadable file) into an
/// error outcome the model reads.
template <typename Body> ToolOutcome guarded(Body&& body) {
  try {
    return body();
  } catch (const Error& e) {
    return error(e.info().message);
  } catch (const std::filesystem::filesystem_error& e) {
    return error(e.what());
  }
}

ToolOutcome read_file(const json& input, const ToolContext& ctx) {
  return guarded([&] {
    const auto path = ctx.workspace->resolve(input.at("path").get<std::string>());
    if (!stdfs::is_regular_file(path))
      return error("No such file: " + input.at("path").get<std::string>());
    const std::string content = fs::read_file(path);
    const long offset = std::max<long>(1, input.value("offset", 1L));
    const long limit = input.value("limit", 2000L);
    std::istringstream lines(content);
    std::string line, out;
    long number = 0;
    bool truncated = false;
    while (std::getline(lines, line)) {
      ++number;
      if (number < offset) continue;
      if (number >= offset + limit || out.size() + line.size() > k_max_read_bytes) {
        truncated = true;
        break;
      }
      out += line + "\n";
    }
    if (truncated)
      out += "[truncated at line " + std::to_string(number) + "; pass offset to read on]\n";
    return ToolOutcome{.text = out,
                       .details = {{"path", ctx.workspace->relative(path)}, {"lines", number}}};
  });
}

ToolOutcome write_file(const json& input, const ToolContext& ctx) {
  return guarded([&] {
    const auto path = ctx.workspace->resolve(input.at("path").get<std::string>());
    const auto content = input.at("content").get<std::string>();
    fs::write_file_atomic(path, content);
    const auto rel = ctx.workspace->relative(path);
    return ToolOutcome{.text = "Wrote " + std::to_string(content.size()) + " bytes to " + rel,
                       .details = {{"path", rel}, {"bytes", content.size()}}};
  });
}

/// One file a walk found: the path as listed (workspace-relative) and the host path to read.
struct Found {
  std::string rel{};
  stdfs::path real{};
};

/// The files under `base` the invocation may read, recursively and in sorted order. Symlinks
/// are never followed as directories; a link to a file is listed only when its target is a
/// regular file the invocation reaches (inside the workspace and its grant), and is read there.
std::vector<Found> walk(const sandbox::Workspace& ws, const stdfs::path& base) {
  using Reach = sandbox::Workspace::Reach;
  std::vector<Found> files;
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(base, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    const auto type = it->symlink_status(ec).type();
    const auto reach = ws.reach(it->path());
    if (type == stdfs::file_type::directory) {
      if (reach == Reach::none) it.disable_recursion_pending(); // beside every grant
      continue;
    }
    if (type == stdfs::file_type::regular) {
      if (reach == Reach::granted) files.push_back({ws.relative(it->path()), it->path()});
      continue;
    }
    if (type != stdfs::file_type::symlink || reach != Reach::granted) continue;
    std::error_code link_ec;
    const auto target = stdfs::weakly_canonical(it->path(), link_ec);
    if (!link_ec && ws.reach(target) == Reach::granted && stdfs::is_regular_file(target, link_ec))
      files.push_back({ws.relative(it->path()), target});
  }
  std::sort(files.begin(), files.end(), [](const Found& a, const Found& b) { return a.rel < b.rel; });
  return files;
}

/// fnmatch with `**` crossing directories: patterns with `**` match without FNM_PATHNAME.
bool glob_match(const std::string& pattern, const std::string& path) {
  const bool deep = pattern.find("**") != std::string::npos;
  if (deep && pattern.rfind("**/", 0) == 0 && glob_match(pattern.substr(3), path)) return true;
  return ::fnmatch(pattern.c_str(), path.c_str(), deep ? 0 : FNM_PATHNAME) == 0;
}

ToolOutcome glob(const json& input, const ToolContext& ctx) {
  return guarded([&] {
    const auto pattern = input.at("pattern").get<std::string>();
    std::string out;
    std::size_t count = 0;
    ctx.workspace->materialize();
    for (const auto& file : walk(*ctx.workspace, ctx.workspace->root())) {
      const auto& rel = file.rel;
      if (!glob_match(pattern, rel)) continue;
      if (++count > k_max_listed_paths) {
        out += "[more matches omitted]\n";
        break;
      }
      out += rel + "\n";
    }
    return ToolOutcome{.text = count == 0 ? "No files match " + pattern : out,
                       .details = {{"matches", std::min(count, k_max_listed_paths)}}};
  });
}

// The model's pattern runs in libstdc++'s backtracking matcher, whose recursion grows with the
// input: patterns and the part of a line matched are bounded so no file can overflow the stack
// of the tool thread, and no line is held whole in memory.
constexpr std::size_t k_max_grep_pattern = 512;
constexpr std::size_t k_grep_line_bytes = 2048;

/// Reads one line of `in` into `line`, keeping its first k_grep_line_bytes (the rest is
/// skipped). False at end of input.
bool bounded_line(std::istream& in, std::string& line) {
  line.clear();
  bool any = false;
  for (int c; (c = in.get()) != std::char_traits<char>::eof();) {
    any = true;
    if (c == '\n') return true;
    if (line.size() < k_grep_line_bytes) line.push_back(static_cast<char>(c));
  }
  return any;
}

ToolOutcome grep(const json& input, const ToolContext& ctx) {
  return guarded([&] {
    std::regex re;
    const auto pattern = input.at("pattern").get<std::string>();
    if (pattern.size() > k_max_grep_pattern)
      return error("The pattern is longer than " + std::to_string(k_max_grep_pattern) +
                   " characters; use a shorter one.");
    try {
      re = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return error(std::string("Invalid regular expression: ") + e.what());
    }
    const auto base = ctx.workspace->resolve(input.value("path", std::string(".")));
    const std::string include = input.value("include", std::string());
    const auto files = stdfs::is_regular_file(base)
                           ? std::vector<Found>{{ctx.workspace->relative(base), base}}
                           : walk(*ctx.workspace, base);
    std::string out;
    std::size_t matches = 0;
    for (const auto& file : files) {
      const auto& rel = file.rel;
      if (!include.empty() && !glob_match(include, rel) &&
          !glob_match(include, stdfs::path(rel).filename().string()))
        continue;
      std::ifstream in(file.real, std::ios::binary);
      std::string line;
      for (int number = 1; bounded_line(in, line); ++number) {
        if (line.find('\0') != std::string::npos) break; // binary file
        if (!std::regex_search(line, re)) continue;
        if (++matches > k_max_grep_matches) break;
        out += rel + ":" + std::to_string(number) + ": " + line.substr(0, 500) + "\n";
      }
      if (matches > k_max_grep_matches) {
        out += "[more matches omitted]\n";
        break;
      }
    }
    return ToolOutcome{.text = matches == 0 ? "No matches" : out,
                       .details = {{"matches", std::min(matches, k_max_grep_matches)}}};
  });
}

/// A built-in as manifest/builtins.cpp describes it (the one schema `info` shows and the harness
/// validates against), run by `run`.
Tool builtin(const char* name, ToolOutcome (*run)(const json&, const ToolContext&)) {
  auto tool = builtin_tool(name);
  tool.run = run;
  return tool;
}

} // namespace

std::vector<Tool> file_tools() {
  return {builtin("read_file", read_file), builtin("write_file", write_file),
          builtin("glob", glob), builtin("grep", grep)};
}

} // namespace hearth::runtime

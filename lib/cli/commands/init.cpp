// `hearth init [dir]`: writes a project from a template embedded in the binary (templates/<name>/),
// checking every target first so a conflict writes nothing, then `git init` for fresh scaffolds.
#include "cli/commands/commands.hpp"
#include "core/json.hpp"
#include "cli/terminal.hpp"
#include "core/embedded.hpp"
#include "core/errors.hpp"
#include "core/fs.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fcntl.h>
#include <iostream>
#include <map>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace hearth::cli {
namespace {
namespace stdfs = std::filesystem;

constexpr std::string_view k_templates_dir = "templates/";
constexpr std::string_view k_name_placeholder = "{{hearth.name}}";
/// The workflow helpers (templates/helpers/) go into `helpers/` of templates that use them.
constexpr std::string_view k_helpers_dir = "templates/helpers/";
bool uses_helpers(std::string_view template_name) {
  return template_name == "workflows" || template_name == "evals";
}
/// A template that extends another: `evals` is the default weather agent plus evals/ (issue 16
/// §4); its own files win over the base's.
std::string base_template(std::string_view template_name) {
  return template_name == "evals" ? "default" : "";
}

struct InitOptions {
  std::string dir{};
  std::string template_name = "default";
  std::string name{};
  bool force = false;
  bool no_git = false;
  bool list_templates = false;
};

/// How the target directory is treated (see the task: fresh, existing project, or refused).
enum class Mode { fresh, add_missing, full_project };

struct Planned {
  std::string relative{}; // project-relative, '/' separated
  std::string content{};
  bool exists = false;
};

/// Template name -> one-line description, from the embedded templates/index.json.
std::map<std::string, std::string> template_index() {
  const auto index = embedded::find("templates/index.json");
  if (!index) return {};
  const auto parsed = hearth::parse_json(*index); // named: items() does not extend its life
  std::map<std::string, std::string> out;
  for (const auto& [name, description] : parsed.items()) out[name] = description.get<std::string>();
  return out;
}

std::vector<std::string> template_names() {
  std::vector<std::string> names;
  for (const auto& entry : template_index()) names.push_back(entry.first);
  return names;
}

int list_templates() {
  std::size_t width = 0;
  const auto index = template_index();
  for (const auto& entry : index) width = std::max(width, entry.first.size());
  for (const auto& [name, description] : index)
    std::cout << name << std::string(width - name.size() + 2, ' ') << description << '\n';
  return exit_code(ExitCode::ok);
}

/// `raw` (a directory name) as an agent id: lower case, runs of anything outside [a-z0-9._-]
/// become one '-', no leading or trailing '-' or '.'; "agent" when nothing is left.
std::string sanitize_id(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    const bool keep = (lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9') ||
                      lower == '.' || lower == '_' || lower == '-';
    if (keep) out += lower;
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  const auto first = out.find_first_not_of("-.");
  if (first == std::string::npos) return "agent";
  const auto last = out.find_last_not_of("-.");
  return out.substr(first, last - first + 1);
}

/// hearth.json's rule for `name` (docs/hearth.schema.json): non-empty, no ':', '/' or whitespace.
void check_name_flag(const std::string& name) {
  const bool bad = name.empty() || name.find_first_of(":/ \t\r\n\f\v") != std::string::npos;
  if (bad)
    throw errors::invalid_flag("--name", "\"" + name + "\" is not a valid agent id",
                               "Use letters, digits, '-', '_' or '.', e.g. --name weather-agent.");
}

/// `content` with the project name filled in; JSON-escaped inside .json files.
std::string render(std::string_view relative, std::string_view content, const std::string& name) {
  const bool json = relative.size() >= 5 && relative.substr(relative.size() - 5) == ".json";
  const std::string quoted = nlohmann::json(name).dump();
  const std::string replacement = json ? quoted.substr(1, quoted.size() - 2) : name;
  std::string out(content);
  for (auto at = out.find(k_name_placeholder); at != std::string::npos;
       at = out.find(k_name_placeholder, at + replacement.size()))
    out.replace(at, k_name_placeholder.size(), replacement);
  return out;
}

bool exists_no_follow(const stdfs::path& path) {
  std::error_code ec;
  return stdfs::symlink_status(path, ec).type() != stdfs::file_type::not_found && !ec;
}

/// Classifies an existing directory; throws init_dir_not_empty for a non-empty non-project.
Mode classify(const stdfs::path& dir, const std::string& shown) {
  bool has_agent = false, has_marker = false, has_visible = false;
  for (const auto& entry : stdfs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "agent") has_agent = true;
    if (name == "hearth.json" || name == "workflows" || name == "agents") has_marker = true;
    if (name.front() != '.') has_visible = true;
  }
  if (has_agent) return Mode::full_project;
  if (has_marker) return Mode::add_missing;
  if (has_visible) throw errors::init_dir_not_empty(shown);
  return Mode::fresh;
}

/// Runs `argv` with stdio on /dev/null; returns its exit status, or -1 when it could not start.
int run_quietly(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool git_on_path() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (const auto& dir : text::split(path, ':'))
    if (!dir.empty() && ::access((stdfs::path(dir) / "git").c_str(), X_OK) == 0) return true;
  return false;
}

/// `git init -q` in `dir` unless it already is, or lies inside, a git work tree.
bool git_init(const stdfs::path& dir) {
  if (!git_on_path()) return false;
  if (exists_no_follow(dir / ".git")) return false;
  if (run_quietly({"git", "-C", dir.string(), "rev-parse", "--is-inside-work-tree"}) == 0)
    return false;
  return run_quietly({"git", "-C", dir.string(), "init", "-q"}) == 0;
}

/// `word` as the shell should see it: unchanged when plain, else single-quoted.
std::string shell_word(const std::string& word) {
  const bool plain = word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789._-/+,:@%") == std::string::npos;
  if (plain && !word.empty()) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void print_next_steps(const std::string& cd_target, const std::string& template_name) {
  const std::string workflow = template_name == "workflows" ? "greet" : "hello";
  std::string steps = "\nNext steps:\n";
  if (!cd_target.empty()) steps += "  cd " + shell_word(cd_target) + "\n";
  steps += "  hearth dev                                      # serve on http://127.0.0.1:3583\n"
           "  hearth run " + workflow + " --payload '{\"name\":\"World\"}'   # run the workflow once\n";
  if (template_name == "evals")
    steps += "  hearth eval                                     # run the evals under evals/\n";
  terminal::info(steps);
}

int run_init(const InitOptions& opts) {
  if (opts.list_templates) return list_templates();
  if (!template_index().count(opts.template_name))
    throw errors::template_not_found(opts.template_name, template_names());
  if (!opts.name.empty()) check_name_flag(opts.name);

  const stdfs::path cwd = stdfs::current_path();
  const std::string typed = opts.dir.empty() ? "." : opts.dir;
  const stdfs::path dir = fs::absolute_from(cwd, typed);
  std::error_code ec;
  const auto status = stdfs::status(dir, ec);
  if (status.type() != stdfs::file_type::not_found && !stdfs::is_directory(status))
    throw errors::io_error("create directory", typed, "a file with that name exists");
  const Mode mode = stdfs::exists(status) ? classify(dir, typed) : Mode::fresh;
  const std::string name = opts.name.empty() ? sanitize_id(dir.filename().string()) : opts.name;

  // Plan every file before writing any, so a conflict leaves the directory untouched.
  const std::string prefix = std::string(k_templates_dir) + opts.template_name + "/";
  std::vector<Planned> plan;
  std::vector<std::string> conflicts;
  auto files = embedded::under(prefix);
  std::deque<std::string> base_paths; // owns the paths of base files re-rooted under `prefix`
  if (const auto base = base_template(opts.template_name); !base.empty()) {
    const std::string base_prefix = std::string(k_templates_dir) + base + "/";
    for (const auto& file : embedded::under(base_prefix)) {
      const auto relative = file.path.substr(base_prefix.size());
      const bool overridden = std::any_of(files.begin(), files.end(), [&](const auto& own) {
        return own.path.substr(prefix.size()) == relative;
      });
      if (overridden) continue;
      base_paths.push_back(prefix + std::string(relative));
      files.push_back({.path = base_paths.back(), .data = file.data});
    }
  }
  if (uses_helpers(opts.template_name)) {
    const auto helpers = embedded::under(k_helpers_dir);
    files.insert(files.end(), helpers.begin(), helpers.end());
  }
  for (const auto& file : files) {
    const bool helper = file.path.substr(0, k_helpers_dir.size()) == k_helpers_dir;
    Planned p{.relative = helper ? "helpers/" + std::string(file.path.substr(k_helpers_dir.size()))
                                 : std::string(file.path.substr(prefix.size()))};
    p.content = render(p.relative, file.data, name);
    p.exists = exists_no_follow(dir / p.relative);
    if (p.exists && mode != Mode::add_missing) conflicts.push_back(p.relative);
    plan.push_back(std::move(p));
  }
  if (!conflicts.empty() && !opts.force) throw errors::init_conflicts(typed, conflicts);

  terminal::info("Creating hearth project \"" + name + "\" in " + dir.string() + " (template " +
                 opts.template_name + ")");
  for (const auto& p : plan) {
    if (p.exists && !opts.force) {
      terminal::info("  keep      " + p.relative);
      continue;
    }
    const bool executable = p.content.rfind("#!", 0) == 0;
    fs::write_file_atomic(dir / p.relative, p.content,
                          stdfs::perms(executable ? 0755 : 0644));
    terminal::info(std::string(p.exists ? "  overwrite " : "  create    ") + p.relative);
  }
  if (mode == Mode::fresh && !opts.no_git && git_init(dir))
    terminal::info("Initialized a git repository in " + typed);
  terminal::success("Created hearth project \"" + name + "\" in " + typed);
  print_next_steps(dir == cwd ? std::string{} : typed, opts.template_name);
  return exit_code(ExitCode::ok);
}

} // namespace

void register_init(CLI::App& app, Dispatch& dispatch) {
  auto opts = std::make_shared<InitOptions>();
  auto* cmd = app.add_subcommand("init", "Create a new agent project from a template");
  set_completion(cmd->add_option("dir", opts->dir, "Directory to create or fill (default: .)"),
                 "dirs");
  cmd->add_option("-t,--template", opts->template_name, "Template to use (default: default)")
      ->type_name("NAME");
  cmd->add_option("--name", opts->name, "Agent id for hearth.json (default: the directory's name)")
      ->type_name("NAME");
  cmd->add_flag("-f,--force", opts->force, "Overwrite files that already exist");
  cmd->add_flag("--no-git", opts->no_git, "Do not run `git init` in a fresh project");
  cmd->add_flag("--list-templates", opts->list_templates, "Print the templates and exit");
  cmd->footer("An existing directory must be empty (dotfiles aside) or hold a hearth project;\n"
              "existing files are never overwritten without --force.");
  cmd->callback([&dispatch, opts] { dispatch.run = [opts] { return run_init(*opts); }; });
}

} // namespace hearth::cli

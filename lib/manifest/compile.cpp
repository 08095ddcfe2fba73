// compile(): input hash, discovery, lowering and the four .hearth/ artifacts (ARCHITECTURE.md §4),
// reusing them when the input tree is unchanged so a repeated `info` costs one stat walk.
#include "manifest/manifest.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/fs.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

namespace hearth::manifest {
namespace stdfs = std::filesystem;
namespace {

/// FNV-1a, two independent 64-bit lanes: cheap, and collisions need 2^64 work to be likely.
class Hasher {
public:
  void add(std::string_view s) {
    for (const unsigned char c : s) {
      m_a = (m_a ^ c) * 0x100000001b3ULL;
      m_b = (m_b ^ c) * 0x100000001b3ULL ^ (m_b >> 29);
    }
    m_a = (m_a ^ 0xff) * 0x100000001b3ULL; // field separator
    m_b = (m_b ^ 0xfe) * 0x100000001b3ULL;
  }
  void add(long long v) {
    char buf[24];
    const int n = std::snprintf(buf, sizeof buf, "%lld", v);
    add(std::string_view(buf, static_cast<std::size_t>(n)));
  }
  std::string hex() const {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(m_a),
                  static_cast<unsigned long long>(m_b));
    return buf;
  }

private:
  unsigned long long m_a = 0xcbf29ce484222325ULL;
  unsigned long long m_b = 0x84222325cbf29ce4ULL;
};

struct Scanner {
  Hasher& hash;
  Hasher& inodes;
  std::vector<std::string>& files;
  std::vector<std::string>& stamps;
  stdfs::path root{}; // the project root, symlinks resolved: links out of it are never followed
  std::vector<std::pair<dev_t, ino_t>> stack{};

  /// True when the symlink `rel` (relative to the project root) resolves inside the root.
  bool link_inside(const std::string& rel) const {
    char* resolved = ::realpath((root / rel).c_str(), nullptr);
    if (resolved == nullptr) return false;
    const auto target = stdfs::path(resolved).lexically_relative(root);
    std::free(resolved);
    return !target.empty() && *target.begin() != "..";
  }

  /// Hashes the entry `name` of the open directory `dirfd` (AT_FDCWD + an absolute path for the
  /// top level); stats relative to the directory so the kernel walks no long paths. One lstat per
  /// entry; only a symlink costs a second stat (and a realpath).
  void entry(int dirfd, const char* name, const std::string& rel, int depth) {
    struct stat st {};
    hash.add(rel);
    if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      hash.add("?");
      return;
    }
    if (S_ISLNK(st.st_mode)) {
      if (!link_inside(rel)) {
        hash.add("symlink-outside-project"); // discovery reports it; never hashed, never copied
        return;
      }
      if (::fstatat(dirfd, name, &st, 0) != 0) {
        hash.add("?");
        return;
      }
    }
    hash.add(static_cast<long long>(st.st_mode));
    if (S_ISREG(st.st_mode)) {
      hash.add(static_cast<long long>(st.st_size));
      hash.add(static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec);
      // Inodes and ctimes apart: a copy of the tree (docker COPY, cp -a) keeps the input hash
      // but not them. The ctime catches a rewrite in place whose mtime was put back.
      stamps.push_back(file_stamp(st));
      inodes.add(stamps.back());
      files.push_back(rel);
      return;
    }
    if (!S_ISDIR(st.st_mode) || depth > 40) return;
    const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
    if (std::find(stack.begin(), stack.end(), id) != stack.end()) return; // symlink loop
    const int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    std::sort(names.begin(), names.end());
    stack.push_back(id);
    for (const auto& n : names) entry(::dirfd(d), n.c_str(), rel + "/" + n, depth + 1);
    stack.pop_back();
    ::closedir(d);
  }
};

std::string iso_now() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

/// `j[key]` when `j` is an object holding a string there, else "": artifacts are files anyone may
/// have damaged, and nlohmann's value() throws type_error on a field of another type.
std::string string_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

/// `j[key]` when it is an integer, else 0 (see string_field).
std::int64_t integer_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return 0;
  const auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

std::optional<nlohmann::json> try_read_json(const stdfs::path& path) {
  std::error_code ec;
  if (!stdfs::is_regular_file(path, ec)) return std::nullopt;
  try {
    return hearth::parse_json(fs::read_file(path));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

std::size_t CompileResult::errors() const {
  return static_cast<std::size_t>(std::count_if(diagnostics.begin(), diagnostics.end(), [](const auto& d) {
    return d.severity == discovery::Severity::error;
  }));
}

std::size_t CompileResult::warnings() const { return diagnostics.size() - errors(); }

std::string file_stamp(const struct stat& st) {
  return std::to_string(st.st_ino) + ":" +
         std::to_string(static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec);
}

Artifacts artifacts_for(const stdfs::path& root) {
  const auto base = root / ".hearth";
  return {.discovery_manifest = base / "discovery" / "agent-discovery-manifest.json",
          .diagnostics = base / "discovery" / "diagnostics.json",
          .compiled_manifest = base / "compile" / "compiled-agent-manifest.json",
          .metadata = base / "compile" / "compile-metadata.json"};
}

InputScan scan_inputs(const config::Project& project) {
  InputScan out;
  Hasher hash;
  hash.add(HEARTH_VERSION);
  hash.add(project.name);
  hash.add(project.model);
  const auto src_rel = fs::display_path(project.source_root, project.root);
  hash.add(src_rel);
  const char* path_env = std::getenv("PATH"); // tool commands are resolved on PATH
  hash.add(path_env ? path_env : "");
  if (project.config_file) {
    std::error_code ec;
    if (stdfs::is_regular_file(*project.config_file, ec)) hash.add(fs::read_file(*project.config_file));
  }
  std::error_code root_ec;
  auto root_real = stdfs::weakly_canonical(project.root, root_ec);
  if (root_ec) root_real = project.root.lexically_normal();
  Hasher inodes;
  Scanner scanner{hash, inodes, out.files, out.stamps, root_real};
  const std::string prefix = project.source_root == project.root ? "" : src_rel + "/";
  std::vector<std::string> tops = {"agent", "agents", "workflows"};
  for (const auto& slot : discovery::slot_names()) tops.push_back(slot);
  tops.push_back("lib");     // modules tool executables may import
  tops.push_back("helpers"); // modules workflow scripts import (the templates' ctx helper)
  std::sort(tops.begin(), tops.end());
  for (const auto& top : tops) {
    const auto p = project.source_root / top;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;
    scanner.entry(AT_FDCWD, p.c_str(), prefix + top, 0);
  }
  // hearth.json `build.include` (schema: relative, no `..`): relative to the root, not to src/.
  for (const auto& rel : project.build_include) {
    const auto normal = stdfs::path(rel).lexically_normal().string();
    if (normal.empty() || normal == "." || normal.starts_with("..") || normal.starts_with("/"))
      continue;
    const auto p = project.root / normal;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      hash.add("missing:" + normal);
      continue;
    }
    scanner.entry(AT_FDCWD, p.c_str(), normal, 0);
  }
  out.hash = hash.hex();
  out.inodes = inodes.hex();
  return out;
}

/// Writes the four artifacts, the metadata last (it vouches for the other three).
static void write_artifacts(const Artifacts& art, const discovery::Discovery& found, const nlohmann::json& diagnostics,
                     std::string_view manifest_text, const nlohmann::json& metadata) {
  fs::write_file_atomic(art.discovery_manifest, dump(to_discovery_manifest(found)));
  fs::write_file_atomic(art.diagnostics, dump(diagnostics));
  fs::write_file_atomic(art.compiled_manifest, manifest_text);
  fs::write_file_atomic(art.metadata, dump(metadata)); // last: it vouches for the other three
}

/// The hash compile-metadata.json records of the compiled manifest's bytes (`compiledManifestHash`).
static std::string text_hash(std::string_view text) {
  Hasher hash;
  hash.add(text);
  return hash.hex();
}

bool artifacts_current(const config::Project& project, const InputScan& scan) {
  const auto art = artifacts_for(project.root);
  const auto meta = try_read_json(art.metadata);
  std::error_code ec;
  return meta && string_field(*meta, "inputHash") == scan.hash &&
         string_field(*meta, "inputInodes") == scan.inodes &&
         stdfs::is_regular_file(art.compiled_manifest, ec) && stdfs::is_regular_file(art.diagnostics, ec) &&
         stdfs::is_regular_file(art.discovery_manifest, ec);
}

CompileResult compile(const config::Project& project, const InputScan* known_scan,
                      bool load_manifest) {
  CompileResult result;
  result.artifacts = artifacts_for(project.root);
  const auto& art = result.artifacts;
  const auto scan = known_scan ? *known_scan : scan_inputs(project);
  result.input_hash = scan.hash;

  const auto meta = try_read_json(art.metadata);
  // Same paths, sizes and mtimes, other inodes: a copied tree (docker COPY) or a file replaced
  // in place of another. Compiled again below; a read-only copy still gets its report.
  const bool copied = meta && string_field(*meta, "inputHash") == scan.hash;
  if (copied && string_field(*meta, "inputInodes") == scan.inodes) {
    try {
      // A caller that only needs the verdict (`hearth run`: the runtime loads the manifest itself)
      // checks the bytes against the hash written with them instead of parsing them: ~6 instead of
      // ~110 instructions a byte. A damaged or replaced file still fails the check and recompiles.
      const auto recorded = string_field(*meta, "compiledManifestHash");
      std::optional<nlohmann::json> manifest;
      if (!load_manifest && !recorded.empty()) {
        std::error_code ec;
        if (stdfs::is_regular_file(art.compiled_manifest, ec)) {
          try {
            if (text_hash(fs::read_file(art.compiled_manifest)) == recorded)
              manifest = nlohmann::json(); // verified, not loaded
          } catch (const Error&) {
          }
        }
      } else {
        manifest = try_read_json(art.compiled_manifest);
        if (manifest && (string_field(*manifest, "kind") != k_manifest_kind ||
                         integer_field(*manifest, "version") != k_manifest_version))
          manifest.reset();
      }
      auto diags = try_read_json(art.diagnostics);
      std::error_code ec;
      if (manifest && diags && diags->is_object() && diags->contains("diagnostics") &&
          (*diags)["diagnostics"].is_array() && stdfs::is_regular_file(art.discovery_manifest, ec)) {
        for (const auto& d : (*diags)["diagnostics"]) result.diagnostics.push_back(discovery::diagnostic_from_json(d));
        result.manifest = std::move(*manifest);
        result.status = result.errors() == 0 ? "ready" : "failed";
        result.reused = true;
        return result;
      }
    } catch (const nlohmann::json::exception&) {
      result.diagnostics.clear(); // a damaged diagnostics file: compiled again below
    }
  }

  const auto started = std::chrono::steady_clock::now();
  const auto found = discovery::discover(project);
  result.manifest = to_manifest(found, project);
  result.diagnostics = found.diagnostics;
  result.status = found.errors() == 0 ? "ready" : "failed";

  auto diag_items = nlohmann::json::array();
  for (const auto& d : found.diagnostics) diag_items.push_back(discovery::to_json(d));
  const nlohmann::json diagnostics = {
      {"kind", "hearth-compiler-diagnostics"},
      {"version", 1},
      {"summary", {{"errors", found.errors()}, {"warnings", found.warnings()}}},
      {"diagnostics", std::move(diag_items)}};
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  const auto rel = [&](const stdfs::path& p) { return fs::display_path(p, project.root); };
  // Compact: the runtime parses it at every start and `info` at every call; `jq .` reads it.
  const auto manifest_text =
      result.manifest.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  const nlohmann::json metadata = {
      {"kind", "hearth-compile-metadata"},
      {"version", 1},
      {"hearthVersion", HEARTH_VERSION},
      {"compiledAt", iso_now()},
      {"durationMs", static_cast<double>(elapsed) / 1000.0},
      {"status", result.status},
      {"sourceRoot", found.source_root},
      {"inputHash", scan.hash},
      {"inputInodes", scan.inodes},
      {"inputFiles", scan.files.size()},
      {"compiledManifestHash", text_hash(manifest_text)},
      {"artifacts",
       {{"discoveryManifest", rel(art.discovery_manifest)},
        {"diagnostics", rel(art.diagnostics)},
        {"compiledManifest", rel(art.compiled_manifest)},
        {"metadata", rel(art.metadata)}}}};

  try {
    write_artifacts(art, found, diagnostics, manifest_text, metadata);
  } catch (const Error&) {
    if (!copied) throw; // a copied build output may be read-only: what was just compiled stands
  }
  return result;
}

nlohmann::json load(const stdfs::path& path, std::string* text) {
  std::error_code ec;
  if (!stdfs::is_regular_file(path, ec))
    throw errors::manifest_invalid(path.string(), "the file does not exist; run `hearth build` first");
  nlohmann::json j;
  try {
    auto bytes = fs::read_file(path);
    j = hearth::parse_json(bytes);
    if (text != nullptr) *text = std::move(bytes);
  } catch (const nlohmann::json::exception& e) {
    throw errors::manifest_invalid(path.string(), e.what());
  }
  if (string_field(j, "kind") != k_manifest_kind)
    throw errors::manifest_invalid(path.string(), std::string("its kind is not \"") + k_manifest_kind + "\"");
  if (integer_field(j, "version") != k_manifest_version)
    throw errors::manifest_invalid(path.string(), "it has version " + j.value("version", nlohmann::json()).dump() +
                                                      "; this hearth reads version " +
                                                      std::to_string(k_manifest_version));
  return j;
}

} // namespace hearth::manifest

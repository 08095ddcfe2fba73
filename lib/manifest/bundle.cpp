// The deployable build output; see bundle.hpp.
#include "manifest/bundle.hpp"
#include "core/json.hpp"

#include "core/errors.hpp"
#include "core/lazy_library.hpp"
#include "core/fs.hpp"
#include "manifest/manifest.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <map>
#include <optional>
#include <set>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hearth::manifest {
namespace stdfs = std::filesystem;
namespace {

bool inside(const stdfs::path& child, const stdfs::path& parent) {
  const auto rel = child.lexically_relative(parent);
  return !rel.empty() && *rel.begin() != "..";
}

void check_output(const config::Project& project, const stdfs::path& out) {
  if (out == project.root || inside(project.root, out))
    throw errors::build_output_unsafe(out.string(), "it contains the project");
  for (const auto& top : {"agent", "agents", "workflows", "tools", "skills", "subagents", "sandbox"})
    if (inside(out, project.source_root / top) || out == project.source_root / top)
      throw errors::build_output_unsafe(out.string(), "it lies inside the project's sources");
  if (out == project.source_root) throw errors::build_output_unsafe(out.string(), "it is the source root");
  std::error_code ec;
  if (stdfs::exists(out, ec)) {
    if (!stdfs::is_directory(out, ec)) throw errors::build_output_unsafe(out.string(), "it is a file");
    if (!stdfs::is_empty(out, ec) && !stdfs::exists(out / k_bundle_marker, ec))
      throw errors::build_output_unsafe(out.string(), "it is a non-empty directory that is not a hearth build output");
  }
}

/// The last build's copy of one file: its path in the previous output and the file_stamp it had
/// when that build ended (recorded in the marker).
struct Previous {
  stdfs::path path{};
  std::string stamp{};
};

/// True when `previous` (the last build's copy of a file, lstat'ed) may stand for the file `src`
/// (stat'ed) in the new output: a regular file of the same size, mtime and `mode`, untouched since
/// the last build recorded it (same inode and ctime: `stamp`), and made after the source last
/// changed. The ctime tests are exact and strict, so neither an edit of the copy with its mtime
/// put back nor a source changed in the same clock tick as the copy is trusted (ctime cannot be
/// set from user space; any write, rename, chmod or link of a file moves it).
bool same_as_previous(const struct stat& src, const struct stat& previous, mode_t mode,
                      const std::string& stamp) {
  const auto ns = [](const struct timespec& t) { return t.tv_sec * 1000000000LL + t.tv_nsec; };
  return S_ISREG(previous.st_mode) && (previous.st_mode & 07777) == mode && previous.st_size == src.st_size &&
         ns(previous.st_mtim) == ns(src.st_mtim) && ns(src.st_ctim) < ns(previous.st_ctim) &&
         file_stamp(previous) == stamp;
}

/// Copies `from` to the new file `to` (O_EXCL: never writes through an existing name) as a
/// reflink where the filesystem shares extents (FICLONE: btrfs, XFS), else copy_file_range, else
/// read/write; then sets `mode` and the source's mtime (the input hash covers both).
/// Throws hearth::Error io_error.
void copy_new(const stdfs::path& from, const stdfs::path& to, std::optional<mode_t> mode) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw errors::io_error("copy", from.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    throw errors::io_error("copy", from.string(), "not a regular file");
  }
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    throw errors::io_error("copy", to.string(), std::strerror(err));
  }
  const auto fail = [&](int err) {
    ::close(in);
    ::close(out);
    throw errors::io_error("copy", from.string(), std::strerror(err));
  };
  if (::ioctl(out, FICLONE, in) != 0) {
    bool plain = false; // copy_file_range refused (old kernel, cross-device): read/write
    for (;;) {
      const ssize_t n = plain ? -1 : ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
      if (n == 0) break;
      if (n > 0) continue;
      if (!plain && errno == EINTR) continue;
      if (!plain && errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) fail(errno);
      plain = true;
      char buf[1 << 16];
      const ssize_t got = ::read(in, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail(errno);
      if (got == 0) break;
      for (ssize_t done = 0; done < got;) {
        const ssize_t w = ::write(out, buf + done, static_cast<std::size_t>(got - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) fail(errno);
        done += w;
      }
    }
  }
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::fchmod(out, mode.value_or(st.st_mode & 07777)) != 0 || ::futimens(out, times) != 0) fail(errno);
  ::close(in);
  if (::close(out) != 0) throw errors::io_error("copy", to.string(), std::strerror(errno));
}

/// Puts the file `from` at `to` in the new output: a hard link to the previous output's copy
/// `previous` when that copy still stands for it (same_as_previous), else a fresh copy. Only
/// copies made by an earlier build are ever linked, never the project's own files, so an edit
/// of a source in place cannot reach a built output; and the build writes no linked file after
/// (everything it writes goes through write_file_atomic, a new inode). `made` remembers the
/// directories already created, which saves a mkdir per parent per file. Returns true when linked.
bool place(const stdfs::path& from, const stdfs::path& to, const std::optional<Previous>& previous,
           std::optional<mode_t> mode, std::set<stdfs::path>& made) {
  std::error_code ec;
  if (made.insert(to.parent_path()).second) stdfs::create_directories(to.parent_path(), ec);
  struct stat src {}, old {};
  if (previous && ::stat(from.c_str(), &src) == 0 && ::lstat(previous->path.c_str(), &old) == 0 &&
      same_as_previous(src, old, mode.value_or(src.st_mode & 07777), previous->stamp) &&
      ::link(previous->path.c_str(), to.c_str()) == 0)
    return true;
  copy_new(from, to, mode);
  return false;
}

/// The copies the build output `out` recorded in its marker (relative path -> file_stamp as that
/// build ended); empty when there is no marker or it is unreadable (then nothing is linked).
std::map<std::string, std::string> recorded_copies(const stdfs::path& out) {
  std::map<std::string, std::string> copies;
  const auto marker = out / k_bundle_marker;
  struct stat st {};
  if (::lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64LL << 20)) return copies;
  try {
    const auto j = hearth::parse_json(fs::read_file(marker));
    const auto it = j.find("copies");
    if (it == j.end() || !it->is_object()) return copies;
    for (const auto& [rel, stamp] : it->items())
      if (stamp.is_string()) copies.emplace(rel, stamp.get<std::string>());
  } catch (const std::exception&) {
    copies.clear();
  }
  return copies;
}

/// The first file whose path or stamp differs between two scans of one tree, or "the input tree".
std::string first_change(const InputScan& before, const InputScan& after) {
  for (std::size_t i = 0; i < before.files.size() && i < after.files.size(); ++i)
    if (before.files[i] != after.files[i] || before.stamps[i] != after.stamps[i]) return after.files[i];
  if (before.files.size() != after.files.size())
    return before.files.size() < after.files.size() ? after.files[before.files.size()]
                                                    : before.files[after.files.size()];
  return "the input tree";
}

/// The Debian package an interpreter name implies ("python3", "node", ...), or "".
std::string package_of(std::string_view word) {
  if (word.find("python") != std::string_view::npos) return "python3";
  if (word.find("node") != std::string_view::npos) return "nodejs";
  return "";
}

/// The interpreter package a script needs, from its extension, else its shebang line.
std::string script_package(const stdfs::path& path) {
  const auto ext = path.extension().string();
  if (ext == ".py") return "python3";
  if (ext == ".js" || ext == ".mjs" || ext == ".cjs") return "nodejs";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  char line[256] = {};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  return got && line[0] == '#' && line[1] == '!' ? package_of(line) : "";
}

/// python3 / nodejs when an authored tool or a program workflow runs on them (one pass, each
/// executable read at most once).
std::set<std::string> interpreter_packages(const config::Project& project, const nlohmann::json& manifest) {
  std::set<std::string> out;
  auto add = [&](const std::string& pkg) {
    if (!pkg.empty()) out.insert(pkg);
  };
  std::function<void(const nlohmann::json&)> visit = [&](const nlohmann::json& agent) {
    for (const auto& t : agent["tools"]) {
      if (t["kind"] != "authored") continue;
      if (!t["command"].empty()) add(package_of(t["command"][0].get<std::string>()));
      if (t["executable"].is_string()) add(script_package(project.root / t["executable"].get<std::string>()));
    }
    for (const auto& s : agent["subagents"]) visit(s);
  };
  for (const auto& a : manifest["agents"]) visit(a);
  for (const auto& w : manifest["workflows"])
    if (w["kind"] == "program")
      add(w["interpreter"].is_string() ? package_of(w["interpreter"].get<std::string>())
                                       : script_package(project.root / w["path"].get<std::string>()));
  return out;
}

std::string dockerfile(const std::vector<std::string>& packages) {
  std::string apt;
  for (const auto& p : packages) apt += " \\\n      " + p;
  return "# Generated by `hearth build`: runs the built project with `hearth start`.\n"
         "FROM debian:12-slim\n"
         "RUN apt-get update \\\n"
         " && apt-get install -y --no-install-recommends ca-certificates" +
         apt +
         " \\\n"
         " && rm -rf /var/lib/apt/lists/*\n"
         "WORKDIR /app\n"
         "COPY . /app\n"
         "ENV HEARTH_ENV=production\n"
         "# The store and run workspaces: mount a volume here so they outlive the container.\n"
         "ENV HEARTH_STATE_DIR=/var/lib/hearth\n"
         "VOLUME /var/lib/hearth\n"
         "ENV PORT=3000\n"
         "EXPOSE 3000\n"
         "# 0.0.0.0 inside the container; routes still need the `auth` of hearth.json (docs/auth.md).\n"
         "CMD [\"/app/bin/hearth\", \"start\", \"/app\", \"--host\", \"0.0.0.0\", \"--port\", \"3000\"]\n";
}

std::string readme(const std::string& name) {
  return "# " + name + " (hearth build output)\n\n"
         "This directory is a self-contained hearth project: the authored files, the compiled\n"
         "manifest in `.hearth/compile/compiled-agent-manifest.json`, and the `bin/hearth` binary\n"
         "that built it.\n\n"
         "    bin/hearth info --root .        # inspect what was built\n"
         "    bin/hearth start .              # serve it (provider keys come from the environment)\n"
         "    docker build -t " + name + " . && docker run -p 3000:3000 --env-file .env " + name + "\n\n"
         ".env files are not copied: pass credentials through the environment.\n";
}

/// Moves what a running `hearth start` or the user left in the previous output `old` into the new
/// tree `fresh`, so a rebuild never deletes data: `.hearth/` entries other than the compiled
/// artifacts (a store and workspaces from before $HEARTH_STATE_DIR, docs/deploy.md) and `.env`
/// files. Renames keep inodes, so a server still running on that store keeps its open files.
/// Throws hearth::Error io_error when a rename fails (what moved before stays moved).
void carry_over_data(const stdfs::path& old, const stdfs::path& fresh) {
  std::error_code ec;
  auto move = [&](const stdfs::path& from, const stdfs::path& to) {
    if (stdfs::exists(to, ec)) return;
    stdfs::create_directories(to.parent_path(), ec);
    if (::rename(from.c_str(), to.c_str()) != 0)
      throw errors::io_error("keep", from.string(), std::strerror(errno));
  };
  if (stdfs::is_directory(old / ".hearth", ec))
    for (const auto& entry : stdfs::directory_iterator(old / ".hearth", ec)) {
      const auto name = entry.path().filename().string();
      if (name != "compile" && name != "discovery") move(entry.path(), fresh / ".hearth" / name);
    }
  for (const auto& entry : stdfs::directory_iterator(old, ec)) {
    const auto name = entry.path().filename().string();
    if ((name == ".env" || name.starts_with(".env.")) && entry.is_regular_file(ec))
      move(entry.path(), fresh / name);
  }
}

/// Once the output `out` is in place and the previous tree gone (removing it unlinks the files
/// this build linked, which moves their ctimes): records the output's own input scan in its
/// compile metadata, so `hearth info --root <out>` reuses the artifacts, and each copy's
/// file_stamp in the marker, which the next build checks before it links one. Best effort:
/// without them the output is compiled again when read and the next build copies every file.
void record_output(const stdfs::path& out) {
  try {
    config::ProjectFlags flags;
    flags.root = out.string();
    const auto scan = scan_inputs(config::resolve(flags, out));
    const auto art = artifacts_for(out);
    auto metadata = hearth::parse_json(fs::read_file(art.metadata));
    metadata["inputHash"] = scan.hash;
    metadata["inputInodes"] = scan.inodes;
    fs::write_file_atomic(art.metadata, metadata.dump(2) + "\n");
    auto marker = hearth::parse_json(fs::read_file(out / k_bundle_marker));
    auto copies = nlohmann::json::object();
    for (std::size_t i = 0; i < scan.files.size(); ++i) copies[scan.files[i]] = scan.stamps[i];
    struct stat st {};
    if (::lstat((out / "bin" / "hearth").c_str(), &st) == 0 && S_ISREG(st.st_mode))
      copies["bin/hearth"] = file_stamp(st);
    marker["copies"] = std::move(copies);
    fs::write_file_atomic(out / k_bundle_marker, marker.dump(2) + "\n");
  } catch (const std::exception&) {
  }
}

} // namespace

std::vector<std::string> needed_libraries(const stdfs::path& binary) {
  std::vector<std::string> out;
  const int fd = ::open(binary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  auto read_at = [&](void* buf, std::size_t n, off_t off) {
    return ::pread(fd, buf, n, off) == static_cast<ssize_t>(n);
  };
  Elf64_Ehdr eh{};
  if (!read_at(&eh, sizeof eh, 0) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum > 4096) {
    ::close(fd);
    return out;
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  if (!read_at(sections.data(), sections.size() * sizeof(Elf64_Shdr), static_cast<off_t>(eh.e_shoff))) {
    ::close(fd);
    return out;
  }
  for (const auto& sh : sections) {
    if (sh.sh_type != SHT_DYNAMIC || sh.sh_link >= sections.size() || sh.sh_size > (1u << 20)) continue;
    const auto& strtab = sections[sh.sh_link];
    if (strtab.sh_size > (16u << 20)) continue;
    std::vector<Elf64_Dyn> dyn(sh.sh_size / sizeof(Elf64_Dyn));
    std::string strings(strtab.sh_size, '\0');
    if (!read_at(dyn.data(), dyn.size() * sizeof(Elf64_Dyn), static_cast<off_t>(sh.sh_offset)) ||
        !read_at(strings.data(), strings.size(), static_cast<off_t>(strtab.sh_offset)))
      continue;
    for (const auto& d : dyn)
      if (d.d_tag == DT_NEEDED && d.d_un.d_val < strings.size())
        out.emplace_back(strings.c_str() + d.d_un.d_val);
  }
  ::close(fd);
  return out;
}

std::string debian_package_for(std::string_view soname) {
  static const std::vector<std::pair<std::string_view, std::string_view>> table = {
      {"libyaml-cpp.so.0.7", "libyaml-cpp0.7"}, {"libsqlite3.so.0", "libsqlite3-0"},
      {"libssl.so.3", "libssl3"},               {"libcrypto.so.3", "libssl3"},
      {"libfmt.so.9", "libfmt9"},               {"libcpp-httplib.so.0.11", "libcpp-httplib0.11"},
      {"libbrotlienc.so.1", "libbrotli1"},      {"libbrotlidec.so.1", "libbrotli1"},
      {"libbrotlicommon.so.1", "libbrotli1"},   {"libz.so.1", "zlib1g"},
      {"libstdc++.so.6", "libstdc++6"},         {"libgcc_s.so.1", "libgcc-s1"},
      {"libasan.so.8", "libasan8"},             {"libubsan.so.1", "libubsan1"},
      {"libSQLiteCpp.so.0", "libsqlitecpp0"},  {"libpq.so.5", "libpq5"}};
  for (const auto& [so, pkg] : table)
    if (soname == so) return std::string(pkg);
  return ""; // libc, libm, ld-linux: part of debian:12-slim
}

BundleResult write_bundle(const config::Project& project, const stdfs::path& output, const stdfs::path& binary,
                          const nlohmann::json* compiled) {
  const auto out = fs::absolute_from(project.root, output);
  check_output(project, out);
  BundleResult result{.output = out};
  const auto tmp = out.parent_path() / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  stdfs::remove_all(tmp, ec);
  stdfs::create_directories(tmp, ec);
  if (ec) throw errors::io_error("create directory", tmp.string(), ec.message());
  try {
    const auto scan = scan_inputs(project);
    std::set<stdfs::path> made;
    // The previous output (check_output vouched for its marker) lends the copies it recorded.
    const auto copies = recorded_copies(out);
    const auto previous = [&](const std::string& rel) -> std::optional<Previous> {
      const auto it = copies.find(rel);
      if (it == copies.end()) return std::nullopt;
      return Previous{.path = out / rel, .stamp = it->second};
    };
    for (const auto& rel : scan.files)
      if (place(project.root / rel, tmp / rel, previous(rel), std::nullopt, made)) ++result.linked;
    result.files = scan.files.size();

    nlohmann::json config = nlohmann::json::object();
    if (project.config_file) config = hearth::parse_json(fs::read_file(*project.config_file));
    config.erase("output"); // relative to the old tree; the default (<root>/dist) is right
    config["name"] = project.name; // the output directory's own name must not rename the agent
    if (!project.model.empty()) config["model"] = project.model;
    fs::write_file_atomic(tmp / "hearth.json", config.dump(2) + "\n");

    const auto loaded = compiled ? nlohmann::json() : load(artifacts_for(project.root).compiled_manifest);
    const auto& built = compiled ? *compiled : loaded;
    std::set<std::string> packages;
    for (const auto& so : needed_libraries(binary))
      if (auto pkg = debian_package_for(so); !pkg.empty()) packages.insert(pkg);
    // A release binary loads these on first use, so they are not in DT_NEEDED (docs/building.md).
    for (const auto& lazy : lazy::lazy_libraries()) packages.insert(lazy.debian_package);
    for (const auto& pkg : interpreter_packages(project, built)) packages.insert(pkg);
    result.packages.assign(packages.begin(), packages.end());

    if (place(binary, tmp / "bin" / "hearth", previous("bin/hearth"), 0755, made)) ++result.linked;
    fs::write_file_atomic(tmp / "Dockerfile", dockerfile(result.packages));
    fs::write_file_atomic(tmp / "README.md", readme(project.name));
    fs::write_file_atomic(tmp / ".dockerignore", ".env\n.env.*\n.hearth/state.db*\n");
    fs::write_file_atomic(tmp / k_bundle_marker,
                          nlohmann::json({{"hearthVersion", HEARTH_VERSION}, {"name", project.name}}).dump(2) + "\n");

    // The output's inputs are the project's inputs byte for byte (mtimes kept, hearth.json pins
    // the same name and model), so the project's artifacts describe it: copy them. Their
    // metadata gets the output's own input hash once the tree is in place (record_output).
    const auto from = artifacts_for(project.root);
    const auto to = artifacts_for(tmp);
    for (const auto& [src, dst] : {std::pair{from.discovery_manifest, to.discovery_manifest},
                                   std::pair{from.diagnostics, to.diagnostics},
                                   std::pair{from.compiled_manifest, to.compiled_manifest}})
      place(src, dst, std::nullopt, std::nullopt, made);
    auto metadata = hearth::parse_json(fs::read_file(from.metadata));
    // What was copied must be what was compiled: the inputs as the compile recorded them, at the
    // start of the copy and after it (path, mode, size, mtime, inode and ctime of each file).
    const auto after = scan_inputs(project);
    if (after.hash != scan.hash || after.inodes != scan.inodes)
      throw errors::build_inputs_changed(first_change(scan, after));
    if (!metadata.is_object() || metadata["inputHash"] != scan.hash ||
        metadata["inputInodes"] != scan.inodes)
      throw errors::build_inputs_changed("the compile metadata describes other files");
    metadata["inputHash"] = ""; // not yet the output's: never reused until record_output
    metadata["inputInodes"] = "";
    fs::write_file_atomic(to.metadata, metadata.dump(2) + "\n");
  } catch (...) {
    stdfs::remove_all(tmp, ec);
    throw;
  }

  if (stdfs::exists(out, ec)) {
    // Whatever fails from here leaves the old output as it was, its data included.
    auto give_back = [&] {
      try {
        carry_over_data(tmp, out);
      } catch (const std::exception&) {
      }
      stdfs::remove_all(tmp, ec);
    };
    try {
      carry_over_data(out, tmp);
    } catch (...) {
      give_back();
      throw;
    }
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) != 0) {
      const int err = errno;
      give_back();
      throw errors::io_error("replace", out.string(), std::strerror(err));
    }
    stdfs::remove_all(tmp, ec); // now the previous output
  } else if (::rename(tmp.c_str(), out.c_str()) != 0) {
    const int err = errno;
    stdfs::remove_all(tmp, ec);
    throw errors::io_error("rename", out.string(), std::strerror(err));
  }
  record_output(out);
  return result;
}

} // namespace hearth::manifest

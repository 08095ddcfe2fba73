// TempProject: a fresh directory under the build tree for one test, with helpers to write files.
// It is removed afterwards unless HEARTH_KEEP_TMP is set, to inspect what a failing test left.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

class TempProject {
public:
  TempProject() {
    static std::atomic<int> counter{0};
    m_root = std::filesystem::path(HEARTH_TEST_TMP) /
             ("unit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(m_root);
    std::filesystem::create_directories(m_root);
  }
  ~TempProject() {
    if (std::getenv("HEARTH_KEEP_TMP") != nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(m_root, ec);
  }
  TempProject(const TempProject&) = delete;
  TempProject& operator=(const TempProject&) = delete;

  const std::filesystem::path& root() const { return m_root; }

  /// Writes `content` to `relative` (creating parents) and returns the absolute path.
  std::filesystem::path write(const std::string& relative, const std::string& content,
                              bool executable = false) const {
    const auto path = m_root / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
    if (executable)
      std::filesystem::permissions(path, std::filesystem::perms::owner_exec,
                                   std::filesystem::perm_options::add);
    return path;
  }

  /// Creates the directory `relative` and returns its absolute path.
  std::filesystem::path mkdir(const std::string& relative) const {
    const auto path = m_root / relative;
    std::filesystem::create_directories(path);
    return path;
  }

private:
  std::filesystem::path m_root;
};

// Loading a library on first use: see lazy_library.hpp.
#include "core/lazy_library.hpp"

#include "core/errors.hpp"

#include <dlfcn.h>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace hearth::lazy {
namespace {

constexpr std::pair<std::string_view, std::string_view> k_packages[] = {
    {"libpq.so.5", "libpq5"},
    {"libcpp-httplib.so.0.11", "libcpp-httplib0.11"},
    {"libcrypto.so.3", "libssl3"}};

std::string_view package_of(std::string_view soname) {
  for (const auto& [so, pkg] : k_packages)
    if (so == soname) return pkg;
  return "";
}

} // namespace

std::vector<LazyLibrary> lazy_libraries() {
  std::vector<LazyLibrary> out;
#ifdef HEARTH_LAZY_LIBRARIES // set by CMake when HEARTH_STATIC_DEPS is on
  for (const auto& [so, pkg] : k_packages) out.push_back({std::string(so), std::string(pkg)});
#endif
  return out;
}

void* symbol(const char* soname, const char* name) {
  static std::mutex mutex;
  static std::unordered_map<std::string, void*> handles; // never closed: trampolines cache
  std::lock_guard lock(mutex);
  auto& handle = handles[soname];
  if (handle == nullptr) {
    handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      throw errors::io_error("load", soname,
                             std::string(why != nullptr ? why : "dlopen failed") +
                                 " (install the Debian package " +
                                 std::string(package_of(soname)) + ")");
    }
  }
  ::dlerror();
  void* address = ::dlsym(handle, name);
  if (address == nullptr)
    throw errors::io_error("find symbol " + std::string(name) + " in", soname,
                           "this hearth was built against another version of the library");
  return address;
}

} // namespace hearth::lazy

// Shared libraries hearth loads on first use instead of at start-up (issue 17 §1). The release
// build (HEARTH_STATIC_DEPS, docs/building.md) links every dependency Debian ships as a static
// archive into the binary and leaves only glibc to the dynamic loader. Two dependencies have no
// usable archive: libcpp-httplib (Debian ships only the shared object) and libpq (its archive
// needs libpgcommon/libpgport, Kerberos and LDAP, none shipped as archives). Their functions are
// defined in the binary as trampolines (lib/core/lazy_httplib.cpp, lazy_libpq.cpp) that resolve
// the real function here, so `hearth --version` or `hearth run` never loads them, OpenSSL's
// shared copy or their dependency closure; an HTTP client or a postgres:// store loads them once.
#pragma once

#include <string>
#include <vector>

namespace hearth::lazy {

/// The libraries of this build that are loaded on first use, as SONAMEs with the Debian package
/// that ships each: {"libpq.so.5", "libpq5"}. Empty in builds that link them at start-up.
/// `hearth build` adds these packages to the image it writes (they are not in DT_NEEDED).
struct LazyLibrary {
  std::string soname;
  std::string debian_package;
};
std::vector<LazyLibrary> lazy_libraries();

/// The address of `symbol` (a mangled C++ or a C name) in shared library `soname`, loading the
/// library on the first call (dlopen RTLD_NOW | RTLD_LOCAL, once per library, thread-safe).
/// Throws errors::io_error naming the library, the missing symbol or dlerror() and the Debian
/// package to install; never returns null.
void* symbol(const char* soname, const char* symbol);

} // namespace hearth::lazy

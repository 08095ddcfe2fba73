# HEARTH_STATIC_DEPS (the release preset): link every dependency Debian ships as a static archive
# into the binary, libstdc++ included, so the dynamic loader maps only glibc (and libgcc_s) at start-up
# (issue 17 §1, docs/building.md "Static linking"). glibc stays shared: getaddrinfo needs NSS and
# the two lazily loaded libraries need dlopen, neither of which works from a static glibc. So does
# libgcc_s: the lazily loaded libraries use it, and an exception crossing between them and hearth
# needs one unwinder in the process (a static libgcc's unwinder aborts on their frames).
# libcpp-httplib (Debian ships no archive) and libpq (its archive needs libpgcommon, libpgport,
# Kerberos and LDAP, none shipped as archives) are not linked: lib/core/lazy_httplib.cpp and
# lazy_libpq.cpp define the functions hearth calls as trampolines that dlopen them on first use.
# Nor is libcrypto, though Debian ships its archive: statically linked it brought ~340 KB of
# tables the loader relocates at every start (70 % of the binary's .data.rel.ro, ~85 page faults)
# for the few commands that sign, hash or encrypt; lazy_libcrypto.cpp loads libcrypto.so.3.
# Included twice: before the find_package() calls (mode "before") and after them ("after").
if(NOT HEARTH_STATIC_DEPS)
  return()
endif()
if(HEARTH_SANITIZE)
  message(FATAL_ERROR "HEARTH_STATIC_DEPS does not combine with sanitizers (their runtimes are shared)")
endif()

function(hearth_static_archive out name)
  unset(found)
  find_library(found NAMES lib${name}.a NO_CACHE REQUIRED)
  set(${out} ${found} PARENT_SCOPE)
endfunction()

if(HEARTH_STATIC_DEPS_STAGE STREQUAL "before")
  hearth_static_archive(sqlite_a sqlite3)
  set(SQLite3_LIBRARY ${sqlite_a} CACHE FILEPATH "SQLite, static (HEARTH_STATIC_DEPS)" FORCE)
  return()
endif()

# yaml-cpp's CMake package names only its shared object.
hearth_static_archive(yaml_a yaml-cpp)
get_target_property(configs yaml-cpp IMPORTED_CONFIGURATIONS)
foreach(config IN LISTS configs)
  set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION_${config} ${yaml_a})
endforeach()
set_target_properties(yaml-cpp PROPERTIES IMPORTED_LOCATION ${yaml_a})

# libedit's .pc file names -ledit -ltermcap -lbsd; libbsd's archive needs libmd.
set(edit_archives)
foreach(name edit tinfo bsd md)
  hearth_static_archive(archive ${name})
  list(APPEND edit_archives ${archive})
endforeach()
set_target_properties(PkgConfig::LIBEDIT PROPERTIES INTERFACE_LINK_LIBRARIES "${edit_archives}")

# Headers and compile definitions only: the trampolines stand in for the libraries.
set_target_properties(PkgConfig::HTTPLIB PkgConfig::LIBPQ PROPERTIES INTERFACE_LINK_LIBRARIES "")
set_target_properties(PkgConfig::HTTPLIB PkgConfig::LIBPQ PROPERTIES INTERFACE_LINK_DIRECTORIES "")
set_target_properties(PkgConfig::HTTPLIB PkgConfig::LIBPQ PROPERTIES INTERFACE_LINK_OPTIONS "")

add_library(hearth_static_link INTERFACE)
target_link_options(hearth_static_link INTERFACE -static-libstdc++ -Wl,--as-needed -Wl,-O1)
# The archives bring ~26,000 relative relocations into the PIE; packed (DT_RELR, glibc 2.36) the
# loader applies them faster (measured: --version 9.9 -> 8.8 ms CPU on a loaded machine).
# -no-pie would drop them altogether (6.9 ms) but gives up ASLR for the binary: not taken.
include(CheckLinkerFlag)
check_linker_flag(CXX "-Wl,-z,pack-relative-relocs" HEARTH_LINKER_HAS_RELR)
if(HEARTH_LINKER_HAS_RELR)
  target_link_options(hearth_static_link INTERFACE -Wl,-z,pack-relative-relocs)
endif()
target_link_libraries(hearth_static_link INTERFACE ${CMAKE_DL_LIBS})

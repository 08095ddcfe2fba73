# Run after linking the release binary (HEARTH_STATIC_DEPS): fails the build when the binary
# needs a shared object other than glibc's and libgcc_s. Each one the loader maps costs start-up
# time (issue 17 §1); a library Debian ships without an archive (fmt, for one) must be used
# header-only or loaded lazily, never linked. Usage:
#   cmake -DBINARY=<path> -DOBJDUMP=<objdump> -P check_needed.cmake
cmake_minimum_required(VERSION 3.25)
set(allowed libc.so.6 libm.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1)
execute_process(COMMAND ${OBJDUMP} -p ${BINARY} OUTPUT_VARIABLE headers RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "check_needed: ${OBJDUMP} -p ${BINARY} failed")
endif()
string(REGEX MATCHALL "NEEDED +[^\n]+" lines "${headers}")
set(unexpected)
foreach(line IN LISTS lines)
  string(REGEX REPLACE "NEEDED +" "" name "${line}")
  string(STRIP "${name}" name)
  if(NOT name IN_LIST allowed)
    list(APPEND unexpected ${name})
  endif()
endforeach()
if(unexpected)
  message(FATAL_ERROR "${BINARY} needs ${unexpected} at start-up; link it statically, use it "
    "header-only or load it lazily (cmake/static_deps.cmake)")
endif()

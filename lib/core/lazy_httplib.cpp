// The libcpp-httplib functions hearth calls, as trampolines into libcpp-httplib.so.0.11 loaded
// on first use (lazy_library.hpp). Compiled only with HEARTH_STATIC_DEPS, which then links no
// libcpp-httplib: each function below is defined under the library's own mangled name (an asm
// label) with its `this` as the first parameter, which is how the Itanium C++ ABI passes it, and
// calls the real function through a pointer of the same type. Only out-of-line functions of
// httplib::Client, ClientImpl and Response are called, none of its data (no vtables, no
// typeinfo), which is what makes this possible. When a new call links with an undefined
// `httplib::...`, add its trampoline here (`nm -D --defined-only` on the .so gives the name).
//
// The loaded library brings its own libstdc++.so.6 and OpenSSL (libssl.so.3): the objects that
// cross (std::string, std::multimap, std::function, httplib's own) have the same layout in both
// copies, and both allocate with glibc's malloc. Nothing of OpenSSL crosses.
#include "core/lazy_library.hpp"

#include <httplib.h>

namespace hearth::lazy_httplib {
namespace {
constexpr const char* k_lib = "libcpp-httplib.so.0.11";
} // namespace

using S = std::string;
using H = httplib::Headers;
using R = httplib::Result;

#define HEARTH_HTTPLIB(id, ret, mangled, params, args)                                          \
  ret id params __asm__(mangled);                                                               \
  ret id params {                                                                               \
    using Fn = ret(*) params;                                                                   \
    static const auto real = reinterpret_cast<Fn>(hearth::lazy::symbol(k_lib, mangled));        \
    return real args;                                                                           \
  }

// clang-format off
HEARTH_HTTPLIB(client_ctor, void, "_ZN7httplib6ClientC1ERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
               (void* self, const S& url), (self, url))
HEARTH_HTTPLIB(client_ctor2, void, "_ZN7httplib6ClientC2ERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
               (void* self, const S& url), (self, url))
HEARTH_HTTPLIB(client_dtor, void, "_ZN7httplib6ClientD1Ev", (void* self), (self))
HEARTH_HTTPLIB(client_dtor2, void, "_ZN7httplib6ClientD2Ev", (void* self), (self))
HEARTH_HTTPLIB(set_keep_alive, void, "_ZN7httplib6Client14set_keep_aliveEb", (void* self, bool on), (self, on))
HEARTH_HTTPLIB(set_follow_location, void, "_ZN7httplib6Client19set_follow_locationEb",
               (void* self, bool on), (self, on))
HEARTH_HTTPLIB(set_read_timeout, void, "_ZN7httplib10ClientImpl16set_read_timeoutEll",
               (void* self, time_t sec, time_t usec), (self, sec, usec))
HEARTH_HTTPLIB(set_write_timeout, void, "_ZN7httplib10ClientImpl17set_write_timeoutEll",
               (void* self, time_t sec, time_t usec), (self, sec, usec))
HEARTH_HTTPLIB(set_connection_timeout, void, "_ZN7httplib10ClientImpl22set_connection_timeoutEll",
               (void* self, time_t sec, time_t usec), (self, sec, usec))
HEARTH_HTTPLIB(set_hostname_addr_map, void, "_ZN7httplib6Client21set_hostname_addr_mapESt3mapINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEES7_St4lessIS7_ESaISt4pairIKS7_S7_EEE",
               (void* self, std::map<S, S> addr_map), (self, std::move(addr_map)))
HEARTH_HTTPLIB(client_stop, void, "_ZN7httplib6Client4stopEv", (void* self), (self))
HEARTH_HTTPLIB(client_send, bool, "_ZN7httplib6Client4sendERNS_7RequestERNS_8ResponseERNS_5ErrorE",
               (void* self, httplib::Request& req, httplib::Response& res, httplib::Error& error),
               (self, req, res, error))
HEARTH_HTTPLIB(get_path, R, "_ZN7httplib6Client3GetERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE",
               (void* self, const S& path), (self, path))
HEARTH_HTTPLIB(get_headers, R, "_ZN7httplib6Client3GetERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKSt8multimapIS6_S6_NS_6detail2ciESaISt4pairIS7_S6_EEE",
               (void* self, const S& path, const H& headers), (self, path, headers))
HEARTH_HTTPLIB(get_receiver, R, "_ZN7httplib6Client3GetERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKSt8multimapIS6_S6_NS_6detail2ciESaISt4pairIS7_S6_EEESt8functionIFbPKcmEE",
               (void* self, const S& path, const H& headers, httplib::ContentReceiver receiver),
               (self, path, headers, std::move(receiver)))
HEARTH_HTTPLIB(get_handler_receiver, R, "_ZN7httplib6Client3GetERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKSt8multimapIS6_S6_NS_6detail2ciESaISt4pairIS7_S6_EEESt8functionIFbRKNS_8ResponseEEESI_IFbPKcmEE",
               (void* self, const S& path, const H& headers, httplib::ResponseHandler handler,
                httplib::ContentReceiver receiver),
               (self, path, headers, std::move(handler), std::move(receiver)))
HEARTH_HTTPLIB(post_body, R, "_ZN7httplib6Client4PostERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKSt8multimapIS6_S6_NS_6detail2ciESaISt4pairIS7_S6_EEES8_S8_",
               (void* self, const S& path, const H& headers, const S& body, const S& type),
               (self, path, headers, body, type))
HEARTH_HTTPLIB(delete_headers, R, "_ZN7httplib6Client6DeleteERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEERKSt8multimapIS6_S6_NS_6detail2ciESaISt4pairIS7_S6_EEE",
               (void* self, const S& path, const H& headers), (self, path, headers))
HEARTH_HTTPLIB(response_header, S, "_ZNK7httplib8Response16get_header_valueERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEm",
               (const void* self, const S& key, std::size_t id), (self, key, id))
// clang-format on

} // namespace hearth::lazy_httplib

// libFuzzer target: JSON parsing with the nesting cap (discovery::parse_json).
#include "discovery/parse.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = hearth::discovery::parse_json(text);
  if (parsed.value) (void)parsed.value->dump();
  return 0;
}

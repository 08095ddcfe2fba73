// libFuzzer target: Markdown + YAML frontmatter parsing (discovery::parse_frontmatter) and the
// helpers that read its result. Must never crash, hang or leak on any input.
#include "discovery/parse.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto fm = hearth::discovery::parse_frontmatter(text);
  if (!fm.problem) (void)fm.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  (void)hearth::discovery::first_line(fm.body);
  (void)hearth::discovery::is_text(text);
  (void)hearth::discovery::cron_problem(text);
  return 0;
}

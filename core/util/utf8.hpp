#pragma once
#include <string_view>

namespace quantlens {
// True when `text` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool valid_utf8(std::string_view text);
}  // namespace quantlens

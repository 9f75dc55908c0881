#pragma once
// JSON parsing for untrusted headers: nlohmann-json with duplicate keys rejected and
// nesting bounded, errors reported with the file name and byte offset.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace quantlens {

nlohmann::json parse_untrusted_json(std::string_view text, const std::string& file, const std::string& field,
                                    unsigned long long base_offset = 0);
// The same keeping the keys in the file's order (plans list layers in model order).
nlohmann::ordered_json parse_untrusted_ordered_json(std::string_view text, const std::string& file,
                                                    const std::string& field,
                                                    unsigned long long base_offset = 0);

}  // namespace quantlens

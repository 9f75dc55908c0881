#include "alloc/budget.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "util/error.hpp"

namespace quantlens {

Budget Budget::parse(std::string_view text) {
    const auto fail = [&](const std::string& why) {
        return Error("", "budget \"" + std::string(text) + "\"", why);
    };
    std::size_t end = 0;
    while (end < text.size() && (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
        ++end;
    double number = 0;
    const auto parsed = std::from_chars(text.data(), text.data() + end, number);
    if (end == 0 || parsed.ec != std::errc() || parsed.ptr != text.data() + end || !std::isfinite(number) ||
        number <= 0)
        throw fail("expected a positive number followed by bpw, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
    std::string unit(text.substr(end));
    for (auto& c : unit)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (unit == "bpw") {
        if (number > 64)
            throw fail("more than 64 bits per weight");
        return {Kind::BitsPerWeight, number};
    }
    static const std::pair<const char*, double> kUnits[] = {
        {"b", 1},           {"kb", 1e3},           {"mb", 1e6},
        {"gb", 1e9},        {"tb", 1e12},          {"kib", 1024.0},
        {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
    for (const auto& [name, scale] : kUnits)
        if (unit == name) {
            if (number * scale < 1 || number * scale > 1e18)
                throw fail("out of range");
            return {Kind::Bytes, std::floor(number * scale)};
        }
    throw fail("unknown unit \"" + std::string(text.substr(end)) +
               "\" (bpw, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
}

std::string Budget::to_string() const {
    char text[64];
    if (kind == Kind::Bytes) {
        std::snprintf(text, sizeof text, "%.0fB", value);  // whole bytes (parse rounds down)
        return text;
    }
    for (int decimals = 0; decimals <= 12; ++decimals) {  // the shortest that reads back the same
        std::snprintf(text, sizeof text, "%.*fbpw", decimals, value);
        if (std::strtod(text, nullptr) == value)
            return text;
    }
    std::snprintf(text, sizeof text, "%.17fbpw", value);
    return text;
}

}  // namespace quantlens

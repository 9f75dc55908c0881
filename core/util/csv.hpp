#pragma once
// CSV cells as the commands write them (RFC 4180 quoting; numbers to 17 significant digits so a
// reader gets the double back).
#include <cmath>
#include <cstdio>
#include <string>

namespace quantlens {

// Quoted when it holds a comma, quote or line break.
inline std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos)
        return text;
    std::string out = "\"";
    for (char c : text)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

inline std::string csv_number(double value) {
    if (!std::isfinite(value))
        return value > 0 ? "inf" : (value < 0 ? "-inf" : "nan");
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

}  // namespace quantlens

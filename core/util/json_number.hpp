#pragma once
// Numbers in every JSON QuantLens writes and reads back (reports, caches): JSON has no NaN or
// infinity, so a finite value is a JSON number and the three others are the strings "nan",
// "inf" and "-inf" (a lossless SQNR is +inf; a metric that has no value is NaN). One
// convention everywhere, documented with each schema (docs/analysis.md, docs/sensitivity.md).
#include <cmath>
#include <optional>

#include <nlohmann/json.hpp>

namespace quantlens {

template <class Json = nlohmann::json>
Json json_number(double value) {
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    return value;
}

// The number a json_number() wrote; nullopt for anything else.
template <class Json>
std::optional<double> number_from_json(const Json& value) {
    if (value.is_number())
        return value.template get<double>();
    if (!value.is_string())
        return std::nullopt;
    const auto& text = value.template get_ref<const typename Json::string_t&>();
    if (text == "nan")
        return std::nan("");
    if (text == "inf")
        return INFINITY;
    if (text == "-inf")
        return -INFINITY;
    return std::nullopt;
}

}  // namespace quantlens

// Finite weights in, finite figures out: a quantizer that cannot represent a layer says so by
// name instead of reporting inf or NaN as a result (issue "Nothing lost, nothing reached" §7).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "quant/quantizer.hpp"

using namespace quantlens;

TEST_CASE("a Q4_0 scale that overflows its half-precision storage is an error naming the spec") {
    std::vector<float> values(64, 1.0f);
    values[5] = 1e6f;  // d = -1e6/8 = -125000: beyond a half float's 65504
    const auto weights = as_matrix(values, {2, 32});
    CHECK_THROWS_WITH(quantize(weights, QuantSpec::parse("q4_0")),
                      Catch::Contains("spec \"q4_0\"") &&
                          Catch::Contains("non-finite values (32 of them, the first at row 0") &&
                          Catch::Contains("65504"));
    values[5] = 6e4f;  // d = 7500 fits: an ordinary result
    const auto fine = quantize(as_matrix(values, {2, 32}), QuantSpec::parse("q4_0"));
    CHECK(std::isfinite(fine.metrics.mse));
}

TEST_CASE("non-finite weights are refused before quantizing, naming the value") {
    std::vector<float> values(32, 0.5f);
    values[7] = std::nanf("");
    CHECK_THROWS_WITH(quantize(as_matrix(values, {1, 32}), QuantSpec::parse("int8:channel:sym")),
                      Catch::Contains("value 7 is not finite"));
}

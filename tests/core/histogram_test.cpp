#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "stats/histogram.hpp"

using namespace quantlens;

TEST_CASE("histograms count every finite value once, in the bin a direct computation gives") {
    std::mt19937 rng(4);
    std::normal_distribution<float> normal;
    std::vector<float> values(100003);
    for (auto& v : values) v = normal(rng);
    values[5] = std::numeric_limits<float>::quiet_NaN();
    values[77] = std::numeric_limits<float>::infinity();
    values[999] = -std::numeric_limits<float>::infinity();
    auto h = histogram(values, 64);
    float low = INFINITY, high = -INFINITY;
    for (float v : values)
        if (std::isfinite(v)) { low = std::min(low, v); high = std::max(high, v); }
    CHECK(h.low == low);
    CHECK(h.high == high);
    CHECK(h.non_finite == 3);
    std::vector<std::uint64_t> expected(64, 0);
    const float scale = static_cast<float>(64.0 / (static_cast<double>(high) - low));
    for (float v : values)
        if (std::isfinite(v)) ++expected[static_cast<std::size_t>(std::min((v - low) * scale, 63.0f))];
    CHECK(h.counts == expected);

    std::vector<float> shifted(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) shifted[i] = values[i] + 1.0f;
    auto difference = histogram_of_difference(values, shifted, 16);  // shifted − values = 1 (or NaN)
    CHECK(difference.non_finite == 3);
    CHECK(difference.low == 0.5f);  // a single value gets a unit-wide range around it
    std::uint64_t total = 0;
    for (auto c : difference.counts) total += c;
    CHECK(total == values.size() - 3);
}

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

    std::vector<float> doubled(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) doubled[i] = values[i] * 2;
    auto difference = histogram_of_difference(values, doubled, 64);  // 2v − v = v exactly (inf − inf is NaN)
    CHECK(difference.counts == h.counts);
    CHECK(difference.non_finite == 3);
    CHECK(histogram(std::vector<float>(10, 2.5f), 4).low == 2.0f);  // one value: a unit-wide range around it
}

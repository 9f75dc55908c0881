#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "stats/histogram.hpp"

using namespace quantlens;

TEST_CASE("histograms count every finite value once, in the bin a direct computation gives") {
    std::mt19937 rng(4);
    std::normal_distribution<float> normal;
    std::vector<float> values(100003);
    for (auto& v : values)
        v = normal(rng);
    values[5] = std::numeric_limits<float>::quiet_NaN();
    values[77] = std::numeric_limits<float>::infinity();
    values[999] = -std::numeric_limits<float>::infinity();
    auto h = histogram(values, 64);
    float low = INFINITY, high = -INFINITY;
    for (float v : values)
        if (std::isfinite(v)) {
            low = std::min(low, v);
            high = std::max(high, v);
        }
    CHECK(h.low == low);
    CHECK(h.high == high);
    CHECK(h.non_finite == 3);
    std::vector<std::uint64_t> expected(64, 0);
    const float scale = static_cast<float>(64.0 / (static_cast<double>(high) - low));
    for (float v : values)
        if (std::isfinite(v))
            ++expected[static_cast<std::size_t>(std::min((v - low) * scale, 63.0f))];
    CHECK(h.counts == expected);

    std::vector<float> doubled(values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
        doubled[i] = values[i] * 2;
    auto difference = histogram_of_difference(values, doubled, 64);  // 2v − v = v exactly (inf − inf is NaN)
    CHECK(difference.counts == h.counts);
    CHECK(difference.non_finite == 3);
    CHECK(histogram(std::vector<float>(10, 2.5f), 4).low == 2.0f);  // one value: a unit-wide range around it
}

namespace {

// The definition, with a logarithm per value: bin k holds |x| with log10|x| in [low + k·w, low + (k+1)·w).
std::vector<std::uint64_t> log_reference(const std::vector<float>& values, std::size_t bins, double low,
                                         double high) {
    std::vector<std::uint64_t> counts(bins, 0);
    const double width = (high - low) / static_cast<double>(bins);
    for (float v : values) {
        if (v == 0)
            continue;
        const double position = (std::log10(std::fabs(static_cast<double>(v))) - low) / width;
        counts[std::min<std::size_t>(bins - 1,
                                     static_cast<std::size_t>(std::max(0.0, std::floor(position))))]++;
    }
    return counts;
}

}  // namespace

TEST_CASE("log-magnitude histogram: exact counts without a logarithm per value") {
    SECTION("one value per decade's middle, and both ends of the range") {
        std::vector<float> values{1e-3f, -1e3f, 0.0f};
        for (int e = -3; e <= 2; ++e)
            for (int copies = 0; copies < e + 4; ++copies)
                values.push_back((copies % 2 ? -1.0f : 1.0f) * static_cast<float>(std::pow(10.0, e + 0.5)));
        const auto h = log_magnitude_histogram(values, 6, 1e-3f, 1e3f);
        REQUIRE(h.counts.size() == 6);
        CHECK(h.counts == std::vector<std::uint64_t>{
                              2, 2, 3, 4, 5, 7});  // the top edge goes to the last bin; zeros are left out
    }
    SECTION("random magnitudes over nine decades, and a range narrower than the lookup cells") {
        std::mt19937 rng(4);
        std::uniform_real_distribution<double> exponent(-7, 2);
        std::vector<float> wide(300000), narrow(100000);
        for (auto& v : wide)
            v = static_cast<float>(std::pow(10.0, exponent(rng)) * (rng() % 2 ? 1 : -1));
        std::uniform_real_distribution<float> near_one(1.0f, 1.0005f);
        for (auto& v : narrow)
            v = near_one(rng);
        for (const auto* values : {&wide, &narrow}) {
            float smallest = INFINITY, largest = 0;
            for (float v : *values) {
                smallest = std::min(smallest, std::fabs(v));
                largest = std::max(largest, std::fabs(v));
            }
            const auto h = log_magnitude_histogram(*values, 256, smallest, largest);
            CHECK(h.counts == log_reference(*values, 256, h.low, h.high));
        }
    }
    SECTION("one magnitude: a unit-wide range around it") {
        const std::vector<float> same(10, -0.5f);
        const auto h = log_magnitude_histogram(same, 4, 0.5f, 0.5f);
        CHECK(h.low == Approx(std::log10(0.5) - 0.5));
        CHECK(h.counts == std::vector<std::uint64_t>{0, 0, 10, 0});
    }
}

TEST_CASE(
    "the central 99.9% histogram spreads heavy-tailed weights over its bins and counts the tails apart") {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0, 0.01f);
    std::vector<float> values(20000);
    for (auto& v : values)
        v = normal(rng);
    for (int i = 0; i < 10; ++i)  // a few huge weights, as in real LLM layers
        values[static_cast<std::size_t>(i * 1000)] = i % 2 ? 29.0f : -27.0f;
    values[7] = std::numeric_limits<float>::quiet_NaN();

    const auto full = histogram(values, 256);
    CHECK(*std::max_element(full.counts.begin(), full.counts.end()) > values.size() * 9 / 10);  // one bar

    const auto central = central_histogram(values, 256, 0.999);
    std::vector<float> sorted;
    for (float v : values)
        if (std::isfinite(v))
            sorted.push_back(v);
    std::sort(sorted.begin(), sorted.end());
    const auto n = sorted.size();  // the order statistics floor(0.0005·(n−1)) and ceil(0.9995·(n−1))
    CHECK(central.low == sorted[static_cast<std::size_t>(std::floor(0.0005 * static_cast<double>(n - 1)))]);
    CHECK(central.high == sorted[static_cast<std::size_t>(std::ceil(0.9995 * static_cast<double>(n - 1)))]);
    std::uint64_t counted = 0;
    for (auto c : central.counts)
        counted += c;
    const auto kept = static_cast<std::uint64_t>(std::count_if(
        sorted.begin(), sorted.end(), [&](float v) { return v >= central.low && v <= central.high; }));
    CHECK(counted == kept);
    CHECK(central.outside == n - kept);
    CHECK(central.outside >= 10);
    CHECK(central.non_finite == 1);
    CHECK(*std::max_element(central.counts.begin(), central.counts.end()) < values.size() / 20);
    std::vector<float> inside(sorted.begin(), sorted.end());
    std::erase_if(inside, [&](float v) { return v < central.low || v > central.high; });
    CHECK(
        central.counts ==
        histogram(inside, 256, static_cast<float>(central.low), static_cast<float>(central.high), 0).counts);
    CHECK(central_histogram(std::vector<float>{}, 16).counts == std::vector<std::uint64_t>(16, 0));
}

TEST_CASE("values outside a histogram's given range are counted in its end bins") {
    // A dequantized value can round past the weights' range, many bins below its low edge; both
    // the AVX2 path (blocks of 8) and the scalar tail must clamp, not index outside the counts.
    std::vector<float> values(37, 0.5f);
    values[0] = -100.0f;
    values[9] = -3.0f;
    values[36] = -50.0f;  // in the scalar tail
    values[20] = 9.0f;
    const auto result = histogram(values, 16, 0.0f, 1.0f, 0);
    REQUIRE(result.counts.size() == 16);
    CHECK(result.counts.front() == 3);
    CHECK(result.counts.back() == 1);
    CHECK(result.counts[8] == 33);
}

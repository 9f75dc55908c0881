#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "stats/layer_statistics.hpp"
#include "stats/rank_correlation.hpp"
#include "stats/summary.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("layer statistics agree with scipy.stats to 1e-9 relative") {
    auto golden = open_model_file(data_path("golden/scipy_stats.npz"));
    for (const char* name : {"normal", "heavy", "skewed_offset", "sparse"}) {
        INFO(name);
        const auto& info = golden->tensor(name);
        auto data = golden->read_f32(info);
        auto expected_data = golden->read(golden->tensor(std::string(name) + "_expected"));
        std::vector<double> expected(10);
        std::memcpy(expected.data(), expected_data.bytes().data(), 10 * sizeof(double));
        auto s = layer_statistics(data.values(), info.shape[0], info.shape[1]);
        auto close = [](double a, double b) {
            return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b));
        };
        CHECK(close(s.mean, expected[0]));
        CHECK(close(s.std, expected[1]));
        CHECK(close(s.skewness, expected[2]));
        CHECK(close(s.excess_kurtosis, expected[3]));
        CHECK(close(s.max_to_mean, expected[4]));
        CHECK(s.outlier_fraction == expected[5]);
        CHECK(s.sparsity == expected[6]);
        CHECK(close(s.channel_kurtosis.median, expected[7]));
        CHECK(close(s.channel_kurtosis.p95, expected[8]));
        CHECK(close(s.channel_kurtosis.max, expected[9]));
    }
}

TEST_CASE("kurtosis stays exact on many values with a large mean") {
    // 10000 + 0.25·{−3, −1, −1, −1, 1, 1, 1, 3} repeated: m2 = 3/16, m4 = 21/256, so the
    // excess kurtosis is 21/9 − 3 = −2/3, skewness 0, std 0.25·√3 — exactly, whatever the count.
    // A naive Σx² − n·x̄² in float64 would lose all digits here.
    const float pattern[8] = {-3, -1, -1, -1, 1, 1, 1, 3};
    std::vector<float> values(std::size_t{1} << 24);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = 10000.0f + 0.25f * pattern[i % 8];
    auto s = layer_statistics(values, 1 << 12, 1 << 12);
    CHECK(s.mean == Approx(10000.0).epsilon(1e-15));
    CHECK(std::fabs(s.excess_kurtosis - (-2.0 / 3.0)) < 1e-9);
    CHECK(std::fabs(s.skewness) < 1e-9);
    CHECK(std::fabs(s.std - 0.25 * std::sqrt(3.0)) < 1e-12);
    auto summary = summarize(values);
    CHECK(std::fabs(summary.std - 0.25 * std::sqrt(3.0)) < 1e-12);
}

TEST_CASE("outlier and histogram counts are exact on constructed data") {
    // 1000 values: 990 at ±1 (alternating) and 10 at ±100: mean 0.
    std::vector<float> values;
    for (int i = 0; i < 990; ++i)
        values.push_back(i % 2 ? 1.0f : -1.0f);
    for (int i = 0; i < 10; ++i)
        values.push_back(i % 2 ? 100.0f : -100.0f);
    auto s = layer_statistics(values, 10, 100, {3, 8});
    // std = sqrt((990 + 10·10000)/1000) ≈ 10.0449; 3σ ≈ 30.1: exactly the ten ±100 are outliers
    CHECK(s.outlier_fraction == 0.01);
    CHECK(s.histogram.counts ==
          std::vector<std::uint64_t>{5, 0, 0, 495, 495, 0, 0, 5});  // bins of 25 over [−100, 100]
    CHECK(s.max_to_mean == Approx(100.0 / ((990.0 + 1000.0) / 1000.0)));
    CHECK(s.sparsity == 0);
    auto strict = layer_statistics(values, 10, 100, {1, 8});  // k = 1: still only the ±100
    CHECK(strict.outlier_fraction == 0.01);
    CHECK(s.channel_absmax.max == 100.0);
    CHECK(s.channel_absmax.median == 1.0);  // rows 0..8 hold only ±1
}

TEST_CASE("Spearman's rho with tied ranks agrees with scipy.stats.spearmanr") {
    auto golden = open_model_file(data_path("golden/scipy_stats.npz"));
    auto series_data = golden->read(golden->tensor("spearman_series"));
    auto expected_data = golden->read(golden->tensor("spearman_expected"));
    std::vector<double> series(120), expected(3);
    std::memcpy(series.data(), series_data.bytes().data(), 120 * sizeof(double));
    std::memcpy(expected.data(), expected_data.bytes().data(), 3 * sizeof(double));
    std::span<const double> a(series.data(), 40), b(series.data() + 40, 40), c(series.data() + 80, 40);
    CHECK(spearman(a, b) == Approx(expected[0]).epsilon(1e-12));
    CHECK(spearman(a, c) == Approx(expected[1]).epsilon(1e-12));
    CHECK(spearman(b, c) == Approx(expected[2]).epsilon(1e-12));
    auto p_data = golden->read(golden->tensor("spearman_pvalue"));
    std::vector<double> p(3);
    std::memcpy(p.data(), p_data.bytes().data(), 3 * sizeof(double));
    CHECK(spearman_p_value(spearman(a, b), 40) == Approx(p[0]).epsilon(1e-9));
    CHECK(spearman_p_value(spearman(a, c), 40) == Approx(p[1]).epsilon(1e-9));
    CHECK(spearman_p_value(spearman(b, c), 40) == Approx(p[2]).epsilon(1e-9));
    auto short_data = golden->read(golden->tensor("spearman_short"));
    auto short_expected = golden->read(golden->tensor("spearman_short_expected"));
    std::vector<double> pairs(30), rho_p(2);
    std::memcpy(pairs.data(), short_data.bytes().data(), 30 * sizeof(double));
    std::memcpy(rho_p.data(), short_expected.bytes().data(), 2 * sizeof(double));
    const double rho =
        spearman(std::span<const double>(pairs.data(), 15), std::span<const double>(pairs.data() + 15, 15));
    CHECK(rho == Approx(rho_p[0]).epsilon(1e-12));
    CHECK(spearman_p_value(rho, 15) == Approx(rho_p[1]).epsilon(1e-9));
    CHECK(std::isnan(spearman_p_value(0.5, 2)));
    CHECK(spearman_p_value(1.0, 10) == 0);
    std::vector<double> ties{1, 2, 2, 3};
    CHECK(average_ranks(ties) == std::vector<double>{1, 2.5, 2.5, 4});
    std::vector<double> constant{5, 5, 5, 5};
    CHECK(std::isnan(spearman(ties, constant)));
}

TEST_CASE("the row max-to-median ratio averages max|x|/median|x| over the rows whose median is not zero") {
    // rows: |x| = 1 2 3 10 (median 2.5: ratio 4); 0 0 0 5 (median 0: left out); −6 1 3 2 (median 2.5:
    // ratio 2.4); an odd row 1 −4 2 (median 2: ratio 2) in a second matrix
    const std::vector<float> x = {1, -2, 3, 10, 0, 0, 0, 5, -6, 1, 3, 2};
    CHECK(row_max_to_median(x, 3, 4) == Approx((4.0 + 2.4) / 2).epsilon(1e-15));
    const std::vector<float> odd = {1, -4, 2};
    CHECK(row_max_to_median(odd, 1, 3) == Approx(2.0).epsilon(1e-15));
    const std::vector<float> zeros = {0, 0, 0, 1, 0, 0};
    CHECK(std::isnan(row_max_to_median(zeros, 2, 3)));  // every median is 0: undefined
}

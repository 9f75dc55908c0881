#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>
#include <random>

#include "quant/layer_preview.hpp"
#include "stats/histogram.hpp"

using namespace quantlens;

TEST_CASE("a layer preview's channel figures and error map add up to the quantizer's error") {
    const std::int64_t rows = 37, cols = 96;  // 37 rows: the map's last cell covers fewer rows
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0, 0.05f);
    std::vector<float> w(static_cast<std::size_t>(rows * cols));
    for (auto& v : w)
        v = normal(rng);
    w[5] = 0.9f;  // an outlier in row 0
    const auto spec = QuantSpec::parse("int4:g32:asym");
    QuantResult scratch;
    PreviewOptions options;
    options.map_rows = 8;
    options.map_cols = 2;
    const auto preview = preview_layer({w, rows, cols}, spec, options, scratch);
    const auto reference = quantize({w, rows, cols}, spec);

    CHECK(preview.metrics.mse == reference.metrics.mse);
    CHECK(preview.levels.size() == 16);
    CHECK(preview.clip_high > preview.clip_low);
    CHECK(preview.channel_max[0] == 0.9f);
    double total = 0;
    for (std::int64_t r = 0; r < rows; ++r)
        total += preview.channel_rmse[static_cast<std::size_t>(r)] *
                 preview.channel_rmse[static_cast<std::size_t>(r)] * cols;
    CHECK(total / static_cast<double>(w.size()) == Approx(reference.metrics.mse).epsilon(1e-9));
    // 37 rows in cells of 5 rows → 8 cells; 3 groups of 32 in cells of 2 groups → 2 cells
    REQUIRE(preview.error_map.rows == 8);
    REQUIRE(preview.error_map.cols == 2);
    CHECK(preview.error_map.rows_per_cell == 5);
    CHECK(preview.error_map.columns_per_cell == 64);
    double weighted = 0;
    for (std::int64_t cr = 0; cr < 8; ++cr)
        for (std::int64_t cc = 0; cc < 2; ++cc)
            weighted += preview.error_map.mse[static_cast<std::size_t>(cr * 2 + cc)] *
                        static_cast<double>(std::min<std::int64_t>(5, rows - cr * 5) * (cc == 0 ? 64 : 32));
    CHECK(weighted / static_cast<double>(w.size()) == Approx(reference.metrics.mse).epsilon(1e-9));
    // the outlier's group has the largest error of the map's first row of cells
    CHECK(preview.error_map.mse[0] > preview.error_map.mse[1]);
    std::uint64_t counted = 0;
    for (auto c : preview.dequantized.counts)
        counted += c;
    CHECK(counted == w.size());
}

TEST_CASE("comparing specs on a layer: each spec's preview and its SQNR rising with bits") {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0, 1);
    std::vector<float> w(64 * 128);
    for (auto& v : w)
        v = normal(rng);
    const std::vector<QuantSpec> specs = {QuantSpec::parse("int4:g32:asym"), QuantSpec::parse("nf4:g64"),
                                          QuantSpec::parse("q4_0")};
    const auto comparison = compare_on_layer({w, 64, 128}, specs, {});
    REQUIRE(comparison.previews.size() == 3);
    REQUIRE(comparison.curves.size() == 3);
    CHECK(comparison.previews[1].metrics.mse == quantize({w, 64, 128}, specs[1]).metrics.mse);
    REQUIRE(comparison.curves[0].size() == 7);  // int2 … int8 with the same options
    CHECK(comparison.curves[0][0].spec.to_string() == "int2:g32:asym");
    for (std::size_t i = 1; i < 7; ++i) {
        CHECK(comparison.curves[0][i].sqnr_db > comparison.curves[0][i - 1].sqnr_db + 4);  // ≈ 6 dB per bit
        CHECK(comparison.curves[0][i].bits_per_weight ==
              comparison.curves[0][i - 1].bits_per_weight + 1 +
                  1.0 / 32);  // one more bit per weight and per zero point
    }
    CHECK(comparison.curves[1].size() == 1);  // NF4 has one width
    CHECK(comparison.curves[0][2].sqnr_db ==
          comparison.previews[0].metrics.sqnr_db);  // int4 on the curve is the preview
}

TEST_CASE(
    "asked for, a preview also bins the central 99.9% of the weights, their dequantized values and the "
    "errors") {
    const std::int64_t rows = 64, cols = 128;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0, 0.02f);
    std::vector<float> w(static_cast<std::size_t>(rows * cols));
    for (auto& v : w)
        v = normal(rng);
    for (std::size_t i = 0; i < w.size(); i += 3001)
        w[i] = 25.0f;  // a few huge values: the full range puts the bulk in one bin
    const auto spec = QuantSpec::parse("int8:channel:sym");
    QuantResult scratch;
    PreviewOptions options;
    CHECK_FALSE(preview_layer({w, rows, cols}, spec, options, scratch).central_weights);  // only when asked
    options.central_range = true;
    const auto preview = preview_layer({w, rows, cols}, spec, options, scratch);
    const auto reference = quantize({w, rows, cols}, spec);
    REQUIRE(preview.central_weights);
    CHECK(preview.central_weights->counts == central_histogram(w, 256).counts);
    CHECK(preview.central_weights->high < 1.0);  // the bulk, not the outliers
    CHECK(preview.central_weights->outside > 0);

    // The dequantized values on the central bins, counted by hand; the rest are outside.
    const auto& bins = *preview.central_dequantized;
    CHECK(bins.low == preview.central_weights->low);
    CHECK(bins.high == preview.central_weights->high);
    std::vector<std::uint64_t> counts(256, 0);
    std::uint64_t outside = 0;
    for (float v : reference.dequantized) {
        if (v < bins.low || v > bins.high) {
            ++outside;
            continue;
        }
        auto b = static_cast<std::size_t>((v - bins.low) / (bins.high - bins.low) * 256);
        ++counts[std::min<std::size_t>(b, 255)];
    }
    CHECK(bins.outside == outside);
    std::uint64_t inside = 0;
    for (auto c : bins.counts)
        inside += c;
    CHECK(inside + outside == w.size());
    // (bin edges are the histogram module's to round; the totals per half agree)
    CHECK(std::accumulate(bins.counts.begin(), bins.counts.begin() + 128, std::uint64_t{0}) ==
          Approx(std::accumulate(counts.begin(), counts.begin() + 128, std::uint64_t{0})).margin(2));

    std::vector<float> errors(w.size());
    for (std::size_t i = 0; i < w.size(); ++i)
        errors[i] = reference.dequantized[i] - w[i];
    CHECK(preview.central_errors->counts == central_histogram(errors, 256).counts);
}

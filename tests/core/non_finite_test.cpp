// Finite weights in, finite figures out: a quantizer that cannot represent a layer says so by
// name instead of reporting inf or NaN as a result (issue "Nothing lost, nothing reached" §7).
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "analysis/analysis.hpp"
#include "io/safetensors.hpp"
#include "model/model.hpp"
#include "quant/comparison.hpp"
#include "quant/quantizer.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

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

TEST_CASE("analyze and compare mark an overflowing spec as failed and one that does not apply as n/a") {
    ScratchDir dir;
    std::vector<float> huge(2 * 32, 1.0f), odd(2 * 48, 0.25f);
    huge[5] = 1e6f;
    auto bytes_of = [](const std::vector<float>& v) {
        return std::span<const std::byte>(reinterpret_cast<const std::byte*>(v.data()), v.size() * 4);
    };
    write_safetensors(dir.file("m.safetensors"), {{"huge.weight", DType::F32, {2, 32}, bytes_of(huge)},
                                                  {"odd.weight", DType::F32, {2, 48}, bytes_of(odd)}});
    const auto model = Model::open(dir.file("m.safetensors"));
    AnalysisOptions options;
    options.cache_dir = dir.file("cache");
    options.specs = {QuantSpec::parse("q4_0")};
    for (int run = 0; run < 2; ++run) {  // computed, then read back from the cache
        const auto report = analyze_model(model, options);
        REQUIRE(report.layers.size() == 2);
        CHECK(report.cached_layers == static_cast<std::size_t>(run == 0 ? 0 : 2));
        const auto& overflowing = report.layers[0].quantization.at(0);
        const auto& not_applicable = report.layers[1].quantization.at(0);  // 48 is not a multiple of 32
        CHECK(overflowing.failed);
        CHECK_FALSE(overflowing.metrics);
        CHECK_THAT(overflowing.error, Catch::Contains("65504"));
        CHECK_FALSE(not_applicable.failed);
        CHECK_FALSE(not_applicable.error.empty());
        CHECK(to_json(report)["layers"][0]["quantization"][0]["failed"] == true);
        CHECK_THAT(to_table(report), Catch::Contains("error") && Catch::Contains("n/a"));
    }
    const auto layers = quantizable_layers(model);
    const auto comparison =
        compare_specs(model, layers, {QuantSpec::parse("q4_0"), QuantSpec::parse("int8:channel:sym")});
    REQUIRE(comparison.layers.size() == 2);
    CHECK(comparison.layers[0].outcomes[0].failed);
    CHECK_FALSE(comparison.layers[0].outcomes[1].failed);
    CHECK(comparison.layers[0].outcomes[1].metrics);
    CHECK_FALSE(comparison.layers[1].outcomes[0].failed);
    // whole-model totals say what they cover, and only a complete one can be best
    CHECK(comparison.totals[0].layers == 0);
    CHECK(comparison.totals[0].skipped_layers == 2);
    CHECK_FALSE(comparison.totals[0].complete());
    CHECK(comparison.totals[1].layers == 2);
    CHECK(comparison.totals[1].complete());
    CHECK(comparison.parameters == 64 + 96);
    CHECK(comparison.best_total() == std::optional<std::size_t>(1));
}

// A real third-party network against independent NumPy figures: PaddleOCR's PP-OCRv4 text
// recognizer, whose layers hold rows that are zero but for subnormal values (a row of zeros
// and one 1e-39 once quantized to NaN, issue 15 B1). samples/paddleocr_goldens.py quantizes
// every weight layer with NumPy alone (docs/formats.md's definitions) and stores each layer's
// MSE and max |error| per spec, or why the spec cannot take the layer.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "quant/comparison.hpp"
#include "test_support.hpp"

using namespace quantlens;

TEST_CASE(
    "every layer of PaddleOCR's recognizer quantizes to finite figures equal to NumPy's for six specs") {
    std::ifstream in(test::data_path("golden/paddleocr_rec_quant.json"));
    auto golden = nlohmann::json::parse(in);
    auto model = Model::open(test::external_path("ocr/" + golden["model"].get<std::string>()));

    std::vector<QuantSpec> specs;
    for (const auto& text : golden["specs"])
        specs.push_back(QuantSpec::parse(text.get<std::string>()));
    auto layers = quantizable_layers(model);
    REQUIRE(layers.size() == golden["layers"].size());  // none dropped, none invented
    auto comparison = compare_specs(model, layers, specs);

    std::map<std::string, const LayerComparison*> ours;
    for (const auto& layer : comparison.layers)
        ours[layer.layer] = &layer;
    int layers_with_subnormals = 0, figures = 0;
    for (const auto& expected : golden["layers"]) {
        auto name = expected["layer"].get<std::string>();
        REQUIRE(ours.count(name));
        layers_with_subnormals += expected["rows_with_subnormals"].get<int>() > 0;
        for (std::size_t s = 0; s < specs.size(); ++s) {
            const auto& want = expected["results"][golden["specs"][s].get<std::string>()];
            const auto& got = ours[name]->outcomes[s];
            INFO(name << " with " << golden["specs"][s].get<std::string>() << ": " << got.error);
            if (want.contains("not_applicable")) {
                CHECK_FALSE(got.metrics);  // shown as n/a, never a figure
                CHECK_FALSE(got.failed);
                continue;
            }
            REQUIRE(got.metrics);
            const auto& m = *got.metrics;
            REQUIRE(std::isfinite(m.mse));
            REQUIRE(std::isfinite(m.sqnr_db));
            REQUIRE(std::isfinite(m.cosine));
            // Sums in another order: 1e-9 relative (they agree to ~1e-10 on this file).
            CHECK(m.mse == Approx(want["mse"].get<double>()).epsilon(1e-9).margin(0));
            CHECK(m.max_abs_error == Approx(want["max_abs_error"].get<double>()).epsilon(1e-9).margin(0));
            ++figures;
        }
    }
    CHECK(layers_with_subnormals >= 1);  // the file still holds the rows the bug was found on
    CHECK(figures > 200);
    for (std::size_t s = 0; s < specs.size(); ++s)
        CHECK(std::isfinite(comparison.totals[s].sqnr_db));
}

#include <catch2/catch.hpp>

#include <cmath>

#include "analysis/model_analysis.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("a model analysis covers every quantizable layer with the same numbers as the parts") {
    auto model = Model::open(sample_path("tiny-gpt2"));
    AnalysisOptions options;
    options.specs = {QuantSpec::parse("int4:g32:asym"), QuantSpec::parse("q4_0")};
    options.first_layer = "transformer.h.1.mlp.c_fc";
    std::vector<std::string> seen;
    auto report = analyze_model(model, options, [&](std::uint64_t, std::uint64_t, std::string_view what) {
        if (!what.empty())
            seen.emplace_back(what);
    });
    REQUIRE(report.layers.size() == quantizable_layers(model).size());
    CHECK(seen.front() == "transformer.h.1.mlp.c_fc");        // asked-for layer first
    CHECK(report.layers.front().layer == "transformer.wte");  // report keeps the model's order
    auto found = std::find_if(report.layers.begin(), report.layers.end(),
                              [](const LayerAnalysis& l) { return l.layer == "transformer.h.0.mlp.c_fc"; });
    REQUIRE(found != report.layers.end());
    const auto& fc = *found;
    auto weights = model.read_weights(model.layer(fc.layer));
    auto direct = layer_statistics(weights.values(), 256, 64);
    CHECK(fc.statistics.excess_kurtosis == direct.excess_kurtosis);
    CHECK(fc.quantization[0].metrics->mse ==
          quantize(as_matrix(weights.values(), weights.shape), options.specs[0]).metrics.mse);
    // agreement: a square matrix over the statistics and each spec's MSE, with 1 on the diagonal
    const auto& agreement = report.agreement;
    REQUIRE(agreement.metrics.size() == 8);
    CHECK(agreement.metrics[5] == "qsur_per_dimension");
    CHECK(agreement.metrics.back() == "mse:q4_0");
    for (std::size_t i = 0; i < agreement.metrics.size(); ++i)
        CHECK(agreement.spearman[i][i] == Approx(1.0));
    CHECK(agreement.spearman[6][7] > 0.5);  // two 4-bit quantizers agree on which layers suffer
    auto json = to_json(report);
    CHECK(json["schema"] == kAnalysisSchema);
    CHECK(json["layers"].size() == report.layers.size());
    auto csv = to_csv(report);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == static_cast<long>(report.layers.size() + 1));
}

TEST_CASE("an analysis can be cancelled and reports specs that do not apply") {
    auto model = Model::open(sample_path("digits-mlp.h5"));
    CancelToken cancel;
    cancel.cancel();
    CHECK_THROWS_AS(analyze_model(model, {}, {}, &cancel), Cancelled);
    auto stored = Model::open(data_path("stored.npz"));
    AnalysisOptions options;
    options.specs = {QuantSpec::parse("q4_0")};
    auto report = analyze_model(stored, options);
    bool found = false;
    for (const auto& layer : report.layers)
        if (layer.layer == "fortran") {
            found = true;
            CHECK_FALSE(layer.quantization[0].metrics.has_value());
            CHECK_THAT(layer.quantization[0].error, Catch::Contains("multiple of 32"));
        }
    CHECK(found);
}

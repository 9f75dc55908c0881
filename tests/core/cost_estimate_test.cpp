// The cost of model metrics, said before they run (sensitivity/cost_estimate.hpp). Its accuracy
// against real runs is a benchmark matter (bench/README.md); here, that it counts what it says.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "model/model.hpp"
#include "nn/hf_graph.hpp"
#include "sensitivity/cost_estimate.hpp"
#include "sensitivity/labelled_data.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

const MetricCost& metric(const CostEstimate& estimate, const std::string& name) {
    for (const auto& m : estimate.metrics)
        if (m.metric == name)
            return m;
    FAIL("no estimate for " << name);
    return estimate.metrics.front();
}

struct MemoryLimit {
    explicit MemoryLimit(const char* bytes) { ::setenv("QUANTLENS_MEMORY_LIMIT", bytes, 1); }
    ~MemoryLimit() { ::unsetenv("QUANTLENS_MEMORY_LIMIT"); }
};

}  // namespace

TEST_CASE("the cost estimate counts each requested metric's passes and buffers", "[engine][cost]") {
    const auto model = Model::open(sample_path("text-llama"));
    const auto data = load_model_data(model, sample_path("text-calib.npz"), 4);
    SensitivityRequest request;
    request.specs = {QuantSpec::parse("int8:channel:sym")};
    request.hessian_options.hutchinson.max_samples = 10;
    const auto estimate = estimate_sensitivity_cost(model, data, request);
    REQUIRE(estimate.metrics.size() == 3);  // measured, hessian, lrp
    // counted from the shapes alone, as many as the graph with its weights holds
    CHECK(estimate.parameters == nn::model_graph(model, 64).parameters.size());
    CHECK(estimate.pass_seconds_f32 > 0);
    CHECK(estimate.timed == "a forward and backward pass of one sample, timed");
    double total = 0;
    for (const auto& m : estimate.metrics) {
        CHECK(m.seconds > 0);
        // LRP holds the whole network (at least the graph's float64 weights); the others stream
        CHECK(m.peak_bytes > (m.metric == "lrp" ? 8 * estimate.parameters : 0));
        total += m.seconds;
    }
    CHECK(estimate.seconds == Approx(total));
    // Hutchinson's budget sets the Hessian's time: ten times the vectors, about ten times the time
    auto more = request;
    more.hessian_options.hutchinson.max_samples = 100;
    const auto larger = estimate_sensitivity_cost(model, data, more);
    CHECK(metric(larger, "hessian").seconds / larger.pass_seconds_f64 ==
          Approx(10 * metric(estimate, "hessian").seconds / estimate.pass_seconds_f64).epsilon(0.01));
    // activations grow with the samples; a model too large to run whole times a product instead
    const auto all = load_model_data(model, sample_path("text-calib.npz"));
    CHECK(metric(estimate_sensitivity_cost(model, all, request), "hessian").peak_bytes >
          metric(estimate, "hessian").peak_bytes);
    const auto scaled = estimate_sensitivity_cost(model, data, request, 1);
    CHECK(scaled.timed == "the largest matrix product timed, scaled by the network's multiply-adds");
    CHECK(scaled.pass_seconds_f64 > 0);
    CHECK(to_text(estimate).find("hessian   about") != std::string::npos);
}

TEST_CASE("model metrics that would not fit in memory are refused before they start", "[engine][cost]") {
    const auto model = Model::open(sample_path("text-llama"));
    const auto data = load_model_data(model, sample_path("text-calib.npz"), 4);
    SensitivityRequest request;
    request.specs = {QuantSpec::parse("int8:channel:sym")};
    request.use_cache = false;
    const MemoryLimit limit("100000");  // 100 kB
    const auto estimate = estimate_sensitivity_cost(model, data, request);
    CHECK(estimate.available_bytes == 100000);
    CHECK_THROWS_WITH(require_affordable(estimate, "m"),
                      Catch::Contains("m: model metrics: would need about") &&
                          Catch::Contains("(lrp), more than the 0.00 GiB available") &&
                          Catch::Contains("refused before starting"));
    bool told = false;
    request.on_estimate = [&](const CostEstimate&) {
        told = true;
    };
    CHECK_THROWS_WITH(model_sensitivity(model, data, request), Catch::Contains("refused before starting"));
    CHECK(told);
}

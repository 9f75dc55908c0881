// Reports made elsewhere (another QuantLens, a runner on other machines) come in through
// import_sensitivity_report: the same report bit for bit, refused with the field named when it is
// malformed or made for another model, and usable as allocation evidence.
#include <catch2/catch.hpp>

#include <fstream>

#include "alloc/planning.hpp"
#include "analysis/model_analysis.hpp"
#include "sensitivity/sensitivity_import.hpp"
#include "plan_support.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

SensitivityReport digits_report() {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 48);
    SensitivityRequest request;
    request.specs = {QuantSpec::parse("int4:channel:asym"), QuantSpec::parse("int8:channel:sym")};
    request.hessian_options.hutchinson.max_samples = 8;
    request.use_cache = false;
    return model_sensitivity(model, data, request);
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("an imported sensitivity report is the exported one, bit for bit", "[engine]") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto report = digits_report();
    const auto text = to_json(report).dump(2);
    write(dir.file("r.json"), text);
    const auto imported = import_sensitivity_report(model, dir.file("r.json"));
    CHECK(to_json(imported).dump(2) == text);
    // The ranking is computed again from the figures, whatever the file says it is.
    auto tampered = nlohmann::json::parse(text);
    tampered["agreement"] = {{{"spec", "int4:channel:asym"},
                              {"predictor", "lrp"},
                              {"against", "delta_loss"},
                              {"spearman", 0.99},
                              {"layers", 2},
                              {"p_value", 0.0}}};
    write(dir.file("tampered.json"), tampered.dump());
    CHECK(to_json(import_sensitivity_report(model, dir.file("tampered.json"))).dump(2) == text);
}

TEST_CASE("a sensitivity report that is malformed or made for another model is refused naming the field",
          "[engine]") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto good = nlohmann::json::parse(to_json(digits_report()).dump());
    const auto refused = [&](nlohmann::json report, const std::string& message) {
        write(dir.file("bad.json"), report.dump());
        INFO(message);
        CHECK_THROWS_WITH(import_sensitivity_report(model, dir.file("bad.json")),
                          Catch::Contains("bad.json") && Catch::Contains(message));
    };
    REQUIRE(good.contains("model_identity"));
    auto other = good;
    other["model_identity"] = "0123456789abcdef";
    refused(other, "model_identity: the report was made for");
    // Without an identity (a writer that gives none) the layers' names and sizes are checked.
    auto anonymous = good;
    anonymous.erase("model_identity");
    write(dir.file("anonymous.json"), anonymous.dump());
    CHECK_NOTHROW(import_sensitivity_report(model, dir.file("anonymous.json")));
    other = anonymous;
    other["layers"][0]["layer"] = "conv2d";
    refused(other, "layers[0].layer: \"conv2d\" is not a weight layer of");
    other = anonymous;
    other["layers"][1]["weights"] = 321;
    refused(other, "layers[1].weights: 321 weights, where");
    other = anonymous;
    other["layers"][1]["layer"] = good["layers"][0]["layer"];
    other["layers"][1]["weights"] = good["layers"][0]["weights"];
    refused(other, "is listed twice");
    other = good;
    other["samples"] = -3;
    refused(other, "samples: must be a whole number");
    other = good;
    other["schema"] = "quantlens.sensitivity/1";
    refused(other, "schema: expected quantlens.sensitivity/2");
    other = good;
    other["layers"][0]["damage"]["delta_loss"] = {0.1};
    refused(other, "layers[0].damage: per-spec figures must hold one value per spec");
    other = good;
    other["layers"][0].erase("weights");
    refused(other, "weights: missing");
    other = good;
    other["specs"] = {7};
    refused(other, "specs: must be an array of spec texts");
    other = good;
    other["layers"] = nlohmann::json::array();
    refused(other, "layers: is empty");
    write(dir.file("bad.json"), "{\"schema\": ");
    CHECK_THROWS_WITH(import_sensitivity_report(model, dir.file("bad.json")), Catch::Contains("bad.json"));
}

TEST_CASE("a plan from an imported report equals the plan from the same evidence computed here", "[engine]") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto report = digits_report();
    write(dir.file("r.json"), to_json(report).dump());
    const auto evidence = evidence_of(import_sensitivity_report(model, dir.file("r.json")));
    PlanRequest request;
    request.candidates = report.specs;
    request.budget = Budget::parse("6bpw");
    const auto analysis = analysis_for(model, request);
    for (const char* metric : {"hawq", "measured", "fisher", "lrp"}) {
        INFO(metric);
        request.metric = parse_damage_metric(metric);
        request.hessian_traces = evidence.hessian_traces;
        request.measured_damage = evidence.measured_damage;
        request.fisher_damage = evidence.fisher_damage;
        request.lrp_contributions = evidence.lrp_contributions;
        const auto imported = plan_allocation(model, analysis, request);
        PlanRequest here = request;
        here.hessian_traces.clear();
        here.measured_damage.clear();
        here.fisher_damage.clear();
        here.lrp_contributions.clear();
        for (const auto& layer : report.layers) {
            here.hessian_traces[layer.layer] = {layer.hessian->hutchinson.trace, layer.hessian->parameters};
            here.lrp_contributions[layer.layer] = layer.lrp->contribution;
            for (std::size_t s = 0; s < report.specs.size(); ++s) {
                here.measured_damage[layer.layer][report.specs[s].to_string()] = layer.damage->delta_loss[s];
                here.fisher_damage[layer.layer][report.specs[s].to_string()] = layer.damage->fisher[s];
            }
        }
        const auto computed = plan_allocation(model, analysis, here);
        CHECK(imported.plan.layers == computed.plan.layers);
        CHECK(imported.plan.summary->predicted_damage == computed.plan.summary->predicted_damage);
    }
}

// The Allocate candidate filter: which specs each export format accepts for each layer, from the
// exporters' own checks, so that a plan made under the filter is one the export writes.
#include <catch2/catch.hpp>

#include "alloc/plan.hpp"
#include "alloc/planning.hpp"
#include "export/export_plan.hpp"
#include "export/export_refusals.hpp"
#include "quant/comparison.hpp"
#include "plan_support.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("an export format refuses the specs its exporter would refuse, layer by layer, and nothing else") {
    const auto llama = Model::open(sample_path("tiny-llama"));
    const auto layers = quantizable_layers(llama);
    const std::vector<QuantSpec> specs = {QuantSpec::parse("int4:g32:asym"), QuantSpec::parse("q4_0"),
                                          QuantSpec::parse("q4_k"), QuantSpec::parse("f16")};

    CHECK(export_source_refusal(llama, "gguf").empty());  // a Hugging Face llama folder converts
    const auto gguf = export_refusals(llama, "gguf", layers, specs);
    for (const auto* layer : layers) {
        INFO(layer->name);
        REQUIRE(gguf.count(layer->name));
        const auto& refused = gguf.at(layer->name);
        CHECK_THAT(refused.at("int4:g32:asym"), Catch::Contains("is not a ggml type"));
        CHECK_FALSE(refused.count("q4_0"));
        CHECK_FALSE(refused.count("f16"));
        // tiny-llama's rows hold 64 or 128 values: no whole 256-value super-block
        CHECK_THAT(refused.at("q4_k"), Catch::Contains("256-value blocks"));
    }

    const auto gptq = export_refusals(llama, "gptqmodel", layers, specs);
    CHECK_THAT(gptq.at("model.embed_tokens").at("int4:g32:asym"), Catch::Contains("Linear modules only"));
    CHECK_FALSE(gptq.at("model.layers.0.self_attn.q_proj").count("int4:g32:asym"));
    CHECK_THAT(gptq.at("model.layers.0.self_attn.q_proj").at("q4_0"), Catch::Contains("not a GPTQ scheme"));
    CHECK_FALSE(gptq.at("model.layers.0.self_attn.q_proj").count("f16"));  // kept as it is

    const auto gpt2 = Model::open(sample_path("tiny-gpt2"));
    CHECK_THAT(export_source_refusal(gpt2, "gguf"), Catch::Contains("convert_hf_to_gguf.py"));
    CHECK_THAT(export_source_refusal(gpt2, "llama-tensor-types"), Catch::Contains("GGUF"));
    CHECK(export_source_refusal(gpt2, "fakequant").empty());
    CHECK_THROWS_WITH(export_source_refusal(gpt2, "onnx"), Catch::Contains("expected gguf, fakequant"));
}

TEST_CASE("a plan allocated for an export format exports without a refusal") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-llama"));
    PlanRequest request;
    request.candidates = {QuantSpec::parse("int4:g32:asym"), QuantSpec::parse("q4_0"),
                          QuantSpec::parse("int8:channel:sym"), QuantSpec::parse("q8_0")};
    request.budget = Budget::parse("6bpw");
    const auto report = analysis_for(model, request);

    // Without the filter the plan takes the integer grids, which GGUF cannot hold.
    const auto free = plan_allocation(model, report, request);
    save_plan(free.plan, dir.file("free.json"));
    CHECK_THROWS_AS(export_plan(model, free.plan, dir.file("free.json"), "gguf", dir.file("free.gguf")),
                    ExportRefused);

    request.refused = export_refusals(model, "gguf", quantizable_layers(model), specs_to_measure(request));
    const auto filtered = plan_allocation(model, report, request);
    for (const auto& [layer, spec] : filtered.plan.layers)
        CHECK((spec.to_string() == "q4_0" || spec.to_string() == "q8_0"));
    save_plan(filtered.plan, dir.file("plan.json"));
    CHECK_NOTHROW(export_plan(model, filtered.plan, dir.file("plan.json"), "gguf", dir.file("out.gguf")));

    // A layer left with no candidate says why, per spec.
    request.candidates = {QuantSpec::parse("int4:g32:asym")};
    request.refused = export_refusals(model, "gguf", quantizable_layers(model), specs_to_measure(request));
    CHECK_THROWS_WITH(plan_allocation(model, report, request),
                      Catch::Contains("int4:g32:asym: the export format refuses it") &&
                          Catch::Contains("is not a ggml type"));
}

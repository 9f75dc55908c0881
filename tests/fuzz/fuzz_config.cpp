// JSON configs (sharded-safetensors indexes, Keras model_config, rope descriptions, quantization plans,
// sensitivity reports made elsewhere, which must print and parse back to themselves) and quantizer spec text,
// which configuration files carry: a spec that parses must print and parse back to itself, and so must a plan
// and a budget.
#include <cstddef>
#include <cstdint>
#include <string>

#include "alloc/plan.hpp"
#include "io/hdf5.hpp"
#include "io/safetensors.hpp"
#include "io/json_limits.hpp"
#include "nn/rope.hpp"
#include "quant/quant_spec.hpp"
#include "sensitivity/sensitivity_report.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        quantlens::parse_safetensors_index(text, "fuzz.index.json");
    } catch (const quantlens::Error&) {
    }
    try {
        quantlens::keras_layers(
            text,
            {{"dense", {"model_weights/dense/dense/kernel:0", "model_weights/dense/dense/bias:0"}},
             {"conv", {"conv/depthwise_kernel:0"}}},
            "fuzz.h5");
    } catch (const quantlens::Error&) {
    }
    try {
        const auto plan = quantlens::parse_plan(text, "fuzz.plan.json");
        const auto printed = quantlens::to_json(plan).dump();
        if (quantlens::to_json(quantlens::parse_plan(printed, "again.plan.json")).dump() != printed)
            __builtin_trap();
    } catch (const quantlens::Error&) {
    }
    try {
        const auto json = quantlens::parse_untrusted_json(text, "fuzz.report.json", "sensitivity report");
        auto report = quantlens::sensitivity_from_json(json, "fuzz.report.json");
        report.agreement = quantlens::agreement_of(report);  // as an import ranks it again
        const auto printed = quantlens::to_json(report).dump();
        const auto again = quantlens::sensitivity_from_json(nlohmann::json::parse(printed), "again.json");
        if (quantlens::to_json(again).dump() != printed)
            __builtin_trap();
    } catch (const quantlens::Error&) {
    }
    try {  // a config.json's rope description
        const auto rope =
            quantlens::nn::rotary_parameters(nlohmann::json::parse(text), 8, 64, "fuzz", "rope");
        if (rope.inv_freq.size() != 4)
            __builtin_trap();
    } catch (const quantlens::Error&) {
    } catch (const nlohmann::json::exception&) {
    }
    try {
        const auto budget = quantlens::Budget::parse(text);
        if (quantlens::Budget::parse(budget.to_string()).value != budget.value)
            __builtin_trap();
    } catch (const quantlens::Error&) {
    }
    try {
        auto spec = quantlens::QuantSpec::parse(text);
        if (!(quantlens::QuantSpec::parse(spec.to_string()) == spec))
            __builtin_trap();
    } catch (const quantlens::Error&) {
    }
    return 0;
}

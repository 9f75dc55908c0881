#pragma once
// Plans for export tests: a default spec and per-layer overrides for one opened model.
#include <map>
#include <string>

#include "alloc/plan.hpp"
#include "model/model_identity.hpp"
#include "quant/quantizer.hpp"

namespace quantlens::test {

inline QuantPlan plan_for(const Model& model, const std::string& default_spec,
                          const std::map<std::string, std::string>& layers = {}) {
    QuantPlan plan;
    plan.model_path = model.file().path();
    plan.model_identity = hex64(model_identity(model.file().path()).content);
    if (!default_spec.empty())
        plan.default_spec = QuantSpec::parse(default_spec);
    for (const auto& layer : model.layers())  // in model order, as plans keep them
        if (const auto found = layers.find(layer.name); found != layers.end())
            plan.layers.emplace_back(found->first, QuantSpec::parse(found->second));
    return plan;
}

// The preview of one layer: what the GUI and `quantlens-cli quantize` show.
inline QuantResult preview(const Model& model, const Layer& layer, const QuantSpec& spec) {
    const auto weights = model.read_weights(layer);
    return quantize(as_matrix(weights.values(), weights.shape), spec);
}

}  // namespace quantlens::test

#include "sensitivity/allocation_evidence.hpp"

#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/layer_damage.hpp"

namespace quantlens {

AllocationEvidence hessian_evidence(const Model& model, const LabelledData& data, const Progress& progress,
                                    const CancelToken* cancel) {
    AllocationEvidence evidence;
    const auto hessian = hessian_sensitivity(model, data, {}, {}, progress, cancel);
    for (const auto& layer : hessian.layers)
        evidence.hessian_traces[layer.layer] = {layer.hutchinson.trace, layer.parameters};
    return evidence;
}

AllocationEvidence lrp_evidence(const Model& model, const LabelledData& data, const LrpOptions& options,
                                const CancelToken* cancel) {
    AllocationEvidence evidence;
    for (const auto& layer : lrp_sensitivity(model, data, options, cancel).layers)
        evidence.lrp_contributions[layer.layer] = layer.contribution;
    return evidence;
}

AllocationEvidence measured_evidence(const Model& model, const LabelledData& data,
                                     const std::vector<QuantSpec>& specs, const Progress& progress,
                                     const CancelToken* cancel) {
    AllocationEvidence evidence;
    const auto damage = layer_damage(model, data, specs, {}, progress, cancel);
    for (const auto& layer : damage.layers)
        for (std::size_t s = 0; s < damage.specs.size(); ++s) {
            evidence.measured_damage[layer.layer][damage.specs[s].to_string()] = layer.delta_loss[s];
            if (s < layer.fisher.size())
                evidence.fisher_damage[layer.layer][damage.specs[s].to_string()] = layer.fisher[s];
        }
    return evidence;
}

}  // namespace quantlens

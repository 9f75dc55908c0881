#pragma once
// The model-based damage an allocation can be made from (alloc/planning's DamageMetric::Hawq,
// ::Measured, ::Fisher and ::Lrp), computed by the engine on calibration data. Kept apart from alloc/ (a
// sibling layer): the CLI's `allocate` and the GUI's Allocate view both fill their PlanRequest from it.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "quant/quant_spec.hpp"
#include "sensitivity/labelled_data.hpp"
#include "sensitivity/lrp.hpp"
#include "util/progress.hpp"

namespace quantlens {

class Model;

struct AllocationEvidence {
    // layer → (Hessian trace, the parameters it is over): HAWQ-V2's Ω weight Tr(H)/n.
    std::map<std::string, std::pair<double, std::size_t>> hessian_traces;
    // layer → spec text → Δloss with that layer alone quantized with that spec.
    std::map<std::string, std::map<std::string, double>> measured_damage;
    // layer → spec text → the Fisher–Taylor estimate of that Δloss (the same run measures both).
    std::map<std::string, std::map<std::string, double>> fisher_damage;
    // layer → its LRP contribution score (LRP-QViT's share of the relevance, Σ = 1).
    std::map<std::string, double> lrp_contributions;
};

AllocationEvidence hessian_evidence(const Model& model, const LabelledData& data,
                                    const Progress& progress = {}, const CancelToken* cancel = nullptr);
AllocationEvidence lrp_evidence(const Model& model, const LabelledData& data, const LrpOptions& options = {},
                                const CancelToken* cancel = nullptr);
AllocationEvidence measured_evidence(const Model& model, const LabelledData& data,
                                     const std::vector<QuantSpec>& specs, const Progress& progress = {},
                                     const CancelToken* cancel = nullptr);

}  // namespace quantlens

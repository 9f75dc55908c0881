#pragma once
// From a weights-only analysis to a quantization plan: candidate specs per layer (per kind,
// with pinned layers), each candidate's cost (its measured bits) and predicted damage
// (a per-layer weight × the squared error it adds), the knapsack solved under a budget.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "alloc/allocation.hpp"
#include "alloc/plan.hpp"
#include "analysis/model_analysis.hpp"

namespace quantlens {

// How a candidate's damage is predicted from the weights: squared error Σ(q(w) − w)² = MSE·n,
// times a per-layer sensitivity weight; or a model-based damage from the sensitivity engine
// (HAWQ's Hessian trace, the measured Δloss).
enum class DamageMetric {
    Mse,        // weight 1
    Kurtosis,   // weight β2 = excess kurtosis + 3: heavy-tailed layers count more
    MaxToMean,  // weight max|w| / mean|w|
    Hawq,       // weight Tr(H)/n from PlanRequest::hessian_traces: damage = HAWQ-V2's Ω
    Measured,   // damage = the measured Δloss with the layer alone quantized (PlanRequest::measured_damage),
                // floored at 0
    Fisher,  // damage = the Fisher–Taylor estimate ½·Σ F·(ΔW)² of that Δloss (PlanRequest::fisher_damage)
    Imatrix,  // damage = Σ_rc imp_c·(ΔW_rc)² with the model's llama.cpp importance matrix
              // (QuantMetrics::importance_mse · n): no calibration run, evidence llama.cpp users have
    Lrp,      // damage = the layer's LRP contribution c (PlanRequest::lrp_contributions, Σc = 1) times
          // the share of its weights' energy the spec loses, ‖Q(W) − W‖² / ‖W‖² (docs/plan.md)
};
std::string_view damage_metric_name(DamageMetric metric);
// Hawq, Measured, Fisher and Lrp: made of the sensitivity engine's figures on calibration data (or
// of a report made elsewhere), which the request must carry.
bool is_model_based(DamageMetric metric);
DamageMetric parse_damage_metric(std::string_view name);  // Error listing the names

// The candidates every layer may take when the user names none: the CLI's `allocate` and the
// GUI's Allocate view start from the same list.
const std::vector<std::string>& default_candidates();

struct PlanRequest {
    std::vector<QuantSpec> candidates;                            // for every layer
    std::map<LayerKind, std::vector<QuantSpec>> kind_candidates;  // replace `candidates` for that kind
    std::vector<std::pair<std::string, QuantSpec>> pins;  // regex over layer names → the one spec allowed
    std::vector<QuantSpec> also_measure;  // measured by the analysis though no layer may take them here
    DamageMetric metric = DamageMetric::Mse;
    Budget budget;
    // Give the projections an inference engine fuses into one matrix the same spec: q/k/v of an
    // attention block, gate/up of an MLP (`…q_proj`, `…k_proj`, `…v_proj`; `…gate_proj`,
    // `…up_proj`, as vLLM fuses them). Each group is one knapsack item, its cost and damage the
    // sums of its members', and only specs every member can take.
    bool tie_fused = false;
    // For DamageMetric::Hawq: each layer's Hessian trace and the parameter count it is over
    // (sensitivity/hessian_sensitivity). A layer without one is an error naming it.
    std::map<std::string, std::pair<double, std::size_t>> hessian_traces;
    // For DamageMetric::Measured: layer → spec text → Δloss (sensitivity/layer_damage).
    std::map<std::string, std::map<std::string, double>> measured_damage;
    // For DamageMetric::Fisher: layer → spec text → Fisher–Taylor estimate (sensitivity/layer_damage).
    std::map<std::string, std::map<std::string, double>> fisher_damage;
    // For DamageMetric::Lrp: layer → its LRP contribution score (sensitivity/lrp).
    std::map<std::string, double> lrp_contributions;
    // Candidates the chosen export format refuses: layer → spec text → why (export/export_refusals).
    // A refused spec is not offered to that layer; a layer left with none is an error listing why.
    std::map<std::string, std::map<std::string, std::string>> refused;
};

// The group a layer ties into under tie_fused ("model.layers.0.self_attn.qkv_proj"), or its own name.
std::string fused_group(const std::string& layer);

// Every spec the analysis must measure for this request.
std::vector<QuantSpec> specs_to_measure(const PlanRequest& request);

struct PlanResult {
    QuantPlan plan;
    AllocationSolver solver;  // the knapsack's items (layers, or tied groups), and the frontier for plotting
    Allocation chosen;
    std::vector<Candidate> layer_choices;  // per analysed layer, in model order: its spec, cost and damage
    std::vector<bool> only_choice;         // per analysed layer: it had one candidate (pinned)
    std::uint64_t budget_bits = 0;         // what the layers' weights may take
    std::uint64_t fixed_bytes = 0;         // tensors the plan leaves as they are (norms, biases, …)
    // Candidates a layer cannot take as asked, replaced as llama-quantize replaces them
    // (quant/ggml_fallback), one line per layer: "layer (rows of 288 values): q4_k -> q5_0".
    std::vector<std::string> fallbacks;
};

// `report` must hold every spec of specs_to_measure(request). Error naming the layer when no
// candidate applies to it, or saying how small the budget may be when nothing fits.
PlanResult plan_allocation(const Model& model, const AnalysisReport& report, const PlanRequest& request);

}  // namespace quantlens

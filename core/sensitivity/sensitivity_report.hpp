#pragma once
// Model-based sensitivity of a model the engine runs (a Keras classifier, or a decoder-only
// language model of a family nn/hf_graph.hpp lists) in one report: per layer the Hessian trace and HAWQ's
// Ω (hessian), the LRP contribution (lrp), Δloss / KL / Fisher–Taylor with that layer alone
// quantized (measured) and the Tr(2XᵀX)/N proxy with its predicted damage (proxy), joined
// with the weight-only analysis of the same layers (kurtosis, MMR, QSUR, weight MSE; from the
// analysis cache when it has them). Each predictor is ranked against the measured Δloss per
// spec by Spearman's ρ: the question "which metric should I trust for this model" answered
// on its own calibration data. Reports are cached on disk beside the analysis cache, keyed by
// the model's and the calibration file's identities and everything asked.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/layer_damage.hpp"
#include "sensitivity/lrp.hpp"

namespace quantlens {

struct CostEstimate;  // sensitivity/cost_estimate.hpp

struct SensitivityRequest {
    bool hessian = true, lrp = true, measured = true, proxy = true;
    std::vector<QuantSpec> specs;
    HessianOptions hessian_options;
    LrpOptions lrp_options;
    bool float64 = false;  // measured damage in float64 (Hessians and LRP always are)
    bool use_cache = true;
    std::string cache_dir;  // empty: default_cache_dir()
    // Told the run's estimated cost before it starts (not for a cached report); a run whose
    // estimated peak exceeds the memory available is refused with it (require_affordable).
    std::function<void(const CostEstimate&)> on_estimate;
};
// "hessian,lrp,measured,proxy" (any subset, comma-separated) into the request's switches.
void set_metrics(SensitivityRequest& request, const std::string& metrics);

struct LayerSensitivity {
    std::string layer, op;
    std::size_t weights = 0;
    std::optional<LayerHessian> hessian;
    std::optional<LayerRelevance> lrp;
    std::optional<LayerDamage> damage;
    double excess_kurtosis = 0, max_to_mean = 0;
    std::optional<double> qsur_per_dimension;
};

// Spearman's ρ of one predictor against the measured Δloss over the layers, for one spec.
struct PredictorAgreement {
    std::string spec, predictor;
    double rho = 0;
    std::size_t layers = 0;
};

struct SensitivityReport {
    std::string model, calibration;
    // The model's identity as plans carry it (model/model_identity `content`, 16 hex digits):
    // an imported report must name the model it is opened with. Empty when the writer gave none.
    std::string model_identity;
    std::size_t samples = 0;
    double loss = 0, accuracy = 0;
    std::vector<QuantSpec> specs;
    std::vector<LayerSensitivity> layers;          // the weighted layers, in network order
    std::optional<double> lrp_conservation_error;  // of the whole network
    std::vector<PredictorAgreement> agreement;
    std::vector<std::string> notes;  // metrics asked for that this model cannot have, and why
    bool from_cache = false;
};

// A predictor's name as people read it ("hessian_omega" → "HAWQ Ω"); empty for a series that
// predicts nothing (the measured KL, the measured Δloss itself).
std::string predictor_label(std::string_view predictor);

// The predictors' agreement with the measured Δloss under `spec` (its text form): labelled
// predictors with a finite ρ only, best (highest ρ) first; ties keep the report's order.
std::vector<PredictorAgreement> ranked_predictors(const SensitivityReport& report, const std::string& spec);

// Every predictor's Spearman ρ against the measured Δloss, per spec (what `agreement` holds).
std::vector<PredictorAgreement> agreement_of(const SensitivityReport& report);

SensitivityReport model_sensitivity(const Model& model, const LabelledData& data,
                                    const SensitivityRequest& request, const Progress& progress = {},
                                    const CancelToken* cancel = nullptr);

// The predictors' per-layer values for one spec ("hessian_omega", "fisher", "proxy", "lrp",
// "weight_mse", "kurtosis", "mmr", "qsur", "activation_kurtosis", "activation_qsur", "activation_mmr") and
// the measured "delta_loss" and "kl", NaN where a layer lacks one: what the agreement ranks and the GUI
// scatters.
std::vector<std::pair<std::string, std::vector<double>>> sensitivity_series(const SensitivityReport& report,
                                                                            std::size_t spec);

inline constexpr const char* kSensitivitySchema = "quantlens.sensitivity/2";
nlohmann::ordered_json to_json(const SensitivityReport& report);
SensitivityReport sensitivity_from_json(const nlohmann::json& json,
                                        const std::string& source);  // Error naming the field
std::string to_table(const SensitivityReport& report);

}  // namespace quantlens

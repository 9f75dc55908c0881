#pragma once
// Model-based sensitivity from the Hessian of a classifier's loss on labelled calibration data:
// each layer's Hessian trace (Hutchinson, and exact on request) over its trainable parameters,
// and HAWQ-V2's Ω for each spec on layers with a weight to quantize. Any network the engine
// builds (nn/keras_graph) works; HVPs are in float64.
#include <optional>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "nn/network.hpp"
#include "quant/quant_spec.hpp"
#include "sensitivity/hessian_trace.hpp"
#include "sensitivity/labelled_data.hpp"

namespace quantlens {

struct LayerHessian {
    std::string layer;
    std::size_t parameters = 0;  // the block the trace is over (weight and bias, or γ and β)
    TraceEstimate hutchinson;
    std::optional<double> exact;
    std::vector<double>
        omega;  // per spec: Tr/n · ‖Q(W) − W‖² (empty for layers without a weight to quantize)
};

struct HessianReport {
    double loss = 0;
    std::size_t samples = 0;
    std::vector<QuantSpec> specs;
    std::vector<LayerHessian> layers;
};

struct HessianOptions {
    HutchinsonOptions hutchinson;
    bool exact = false;
};

HessianReport hessian_sensitivity(const Model& model, const LabelledData& data,
                                  const std::vector<QuantSpec>& specs, const HessianOptions& options = {},
                                  const Progress& progress = {}, const CancelToken* cancel = nullptr);

// The network's exact Hessian-vector products on these data (nn::HessianVectorProducts) as the
// function the trace estimators take; copies of it share one product state. `labels` must outlive it.
HessianVectorProduct hessian_vector_products(const nn::Network<double>& network, const nn::Matrix<double>& x,
                                             const std::vector<std::int64_t>& labels);

// ‖Q(W) − W‖² of a layer's weight under a spec (the quantizer every view uses).
double weight_squared_error(const Model& model, const std::string& layer, const QuantSpec& spec);

}  // namespace quantlens

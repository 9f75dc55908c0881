#pragma once
// Model-based sensitivity of a feed-forward classifier on labelled calibration data: each
// layer's Hessian trace (Hutchinson, and exact on request) and HAWQ-V2's Ω for each spec.
// Calibration data: an .npz (or any readable file) with inputs "x" (or "inputs") [samples,
// features] and integer labels "y" (or "labels") [samples].
#include <optional>
#include <string>
#include <vector>

#include "nn/dense_network.hpp"
#include "quant/quant_spec.hpp"
#include "sensitivity/hessian_trace.hpp"

namespace quantlens {

struct LabelledData {
    Eigen::MatrixXd x;
    std::vector<std::int64_t> y;
};
LabelledData load_labelled_data(const std::string& path, std::size_t max_samples = 0);  // 0: all

struct LayerHessian {
    std::string layer;
    std::size_t parameters = 0;       // weight and bias, the block the trace is over
    TraceEstimate hutchinson;
    std::optional<double> exact;
    std::vector<double> omega;        // per spec: Tr/n · ‖Q(W) − W‖²
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

HessianReport hessian_sensitivity(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs, const HessianOptions& options = {},
                                  const Progress& progress = {}, const CancelToken* cancel = nullptr);

}  // namespace quantlens

#pragma once
// What quantizing one layer does to a classifier on labelled calibration data, with every other
// layer at full precision:
// - measured: the change of the mean cross-entropy, Δloss = L(Q_i) − L, and the mean KL
//   divergence KL(p ‖ p_Q) of the output distributions (the ground truth predictors are ranked against);
// - Fisher–Taylor: (1/N) Σ_n Σ_e (∂ℓ_n/∂y ⊙ (y_Q − y))², y the layer's linear output (before its
//   activation), ℓ_n one sample's loss — the loss-aware score NVIDIA Model Optimizer's
//   AutoQuantize ranks layers by;
// - proxy (no labels needed): Tr(2XᵀX)/N of the layer's captured inputs (the GPTQ Hessian's
//   trace per weight row, averaged over rows), Σx² per input column (llama.cpp's importance
//   matrix), and the damage it predicts, (1/N) Σ_rc ΔW_rc² · Σx²_rc.
// The quantizer is the one every view uses; GPTQ and smoothing get the layer's captured inputs.
#include <limits>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "quant/quant_spec.hpp"
#include "sensitivity/labelled_data.hpp"
#include "util/progress.hpp"

namespace quantlens {

struct LayerDamage {
    std::string layer, op;
    std::size_t weights = 0;
    double proxy_trace = 0;          // Tr(2XᵀX)/N
    std::vector<double> importance;  // Σx²/N per input column of the weight matrix (empty for depthwise)
    std::size_t input_rows = 0;      // rows of X those sums ran over (tokens for a language model)
    // The captured inputs' own statistics (rows = samples or tokens or conv positions, columns =
    // the weight's input dimension): excess kurtosis of all values and QSUR^(1/d) (OSTQuant),
    // what an activation quantizer would face. NaN for depthwise layers (no single input matrix).
    double activation_kurtosis = std::numeric_limits<double>::quiet_NaN();
    double activation_qsur = std::numeric_limits<double>::quiet_NaN();
    // Mean over rows of max|x| / median|x| (stats/layer_statistics row_max_to_median): the
    // activation MMR of "Beyond Outliers", beside the weights' max/mean. NaN when every row's
    // median is 0 (as after a ReLU on sparse inputs) or for depthwise layers.
    double activation_mmr = std::numeric_limits<double>::quiet_NaN();
    std::vector<double> proxy_damage, weight_mse;  // per spec
    std::vector<double> delta_loss, kl, fisher;    // per spec, when measured
};

struct DamageReport {
    double loss = 0;      // at full precision
    double accuracy = 0;  // top-1 at full precision
    std::size_t samples = 0;
    bool float64 = false;
    std::vector<QuantSpec> specs;
    std::vector<LayerDamage> layers;  // those with a weight to quantize, in network order
};

struct DamageOptions {
    bool float64 = false;  // the engine's float64 path instead of float32 (as models run)
    bool measure =
        true;  // Δloss, KL and Fisher–Taylor (a forward pass per layer and spec); false: the proxy alone
};

DamageReport layer_damage(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs,
                          const DamageOptions& options = {}, const Progress& progress = {},
                          const CancelToken* cancel = nullptr);

}  // namespace quantlens

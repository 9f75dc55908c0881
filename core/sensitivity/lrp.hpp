#pragma once
// Layer-wise Relevance Propagation (docs/metrics.md §7) on the engine's networks, float64.
// Relevance starts at the target logit (the label, or the predicted class) and flows back:
// - Dense / Conv2D / DepthwiseConv2D by the generic rule R_in = a ⊙ W'ᵀ(R / (z' + ε·sign z'))
//   with W' = W (LRP-ε), W + γW⁺ (LRP-γ, bias b + γb⁺) or W⁺ (z⁺, no bias); a BatchNorm that
//   only follows such a layer is folded into it first (W·a, b·a + b_BN per output channel);
// - element-wise activations and Flatten pass relevance unchanged;
// - average pooling, an unfolded BatchNorm, Add and a position embedding are linear: the ε-rule,
//   proportional to each input's share of z; max-pooling gives each window's relevance to its winner;
// - transformers (Ali et al. 2022; AttnLRP's rules): LayerNorm/RMSNorm with 1/σ held constant
//   (the rest is linear), attention with its probabilities held constant (relevance flows down
//   the value path, none to q and k), SwiGLU's gate·up product split evenly between the two, and
//   a token's relevance the sum over its embedding. The target is then each position's next
//   token (or predicted token).
// Each node reports its conservation error |ΣR_in − ΣR_out| / |ΣR_out| over the batch, and
// each layer with a weight its contribution score (LRP-QViT): the relevance it carries,
// Σ|R_in| over the calibration samples, normalised so the scores sum to 1 over the layers.
#include <string>
#include <vector>

#include "model/model.hpp"
#include "nn/network.hpp"
#include "sensitivity/labelled_data.hpp"
#include "util/progress.hpp"

namespace quantlens {

enum class LrpRule { Epsilon, Gamma, ZPlus };
enum class LrpTarget { Label, Predicted };

struct LrpOptions {
    LrpRule rule = LrpRule::Epsilon;
    double epsilon = 1e-6;  // the stabiliser in every rule (Zennit's default)
    double gamma = 0.25;
    LrpTarget target = LrpTarget::Label;
};

struct NodeRelevance {
    std::string node, layer;
    bool weighted = false;                       // a Dense/Conv2D/DepthwiseConv2D step
    double relevance_in = 0, relevance_out = 0;  // Σ over samples and units
    double absolute_in = 0;                      // Σ|R_in|
    double conservation_error = 0;               // |ΣR_in − ΣR_out| / |ΣR_out|
};

struct LayerRelevance {
    std::string layer;
    double contribution = 0;        // normalised Σ|R_in|, the layers' scores sum to 1
    double conservation_error = 0;  // of the layer's own step (BatchNorm folded in)
};

struct LrpResult {
    nn::Matrix<double> input_relevance;  // [samples, input size] (a language model: per token)
    double output_relevance = 0;         // Σ of the target logits
    double conservation_error = 0;       // |ΣR_input − ΣR_output| / |ΣR_output| over the whole network
    std::vector<NodeRelevance> nodes;
    std::vector<LayerRelevance> layers;  // those with a weight, in network order
};

LrpResult relevance(const nn::Network<double>& network, const nn::Matrix<double>& x,
                    const std::vector<std::int64_t>& labels, const LrpOptions& options = {},
                    const CancelToken* cancel = nullptr);

LrpResult lrp_sensitivity(const Model& model, const LabelledData& data, const LrpOptions& options = {},
                          const CancelToken* cancel = nullptr);

const char* lrp_rule_name(LrpRule rule);
LrpRule lrp_rule_from_name(const std::string& name);  // "epsilon", "gamma", "zplus"; Error otherwise

}  // namespace quantlens

#pragma once
// "This checkpoint against QuantLens's own plan at the same size": from a diff of a float model
// and a quantized version of it, the layers the quantized file stores quantized (packed, in
// blocks, or in 8 bits or fewer) are planned again from the float weights, under a budget of exactly the bits
// the file spends on them, minimising the summed squared weight error (the figure the diff reports). Each
// layer's plan is then measured with the diff's own error sums, so the two columns compare like
// for like (docs/diff.md).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/checkpoint_diff.hpp"
#include "model/model.hpp"
#include "quant/quant_spec.hpp"
#include "util/progress.hpp"

namespace quantlens {

struct PlannedLayer {
    std::string layer;               // the diff row's base name
    std::vector<std::string> specs;  // the plan's spec per base part (one unless fused)
    double checkpoint_bits = 0;      // per weight, the other file's
    double plan_bits = 0;            // per weight, the plan's (scales and zero points included)
    QuantMetrics checkpoint, plan;   // as approximations of the base's weights
};

struct PlanAtSize {
    std::vector<QuantSpec> candidates;     // what every layer could take
    std::string candidates_from;           // "the checkpoint's formats" or "the user"
    std::vector<PlannedLayer> layers;      // in the diff's order
    std::vector<std::string> not_planned;  // "layer: why" (not stored quantized, no figures)
    std::uint64_t parameters = 0;
    double checkpoint_bits = 0, plan_bits = 0;  // per weight over the planned layers
    double checkpoint_mse = 0, plan_mse = 0, checkpoint_sqnr_db = 0, plan_sqnr_db = 0;
};

// The candidates when the user names none: for each layer the file stores quantized, the spec
// that describes its stored form (quant/stored_spec) at 2 to 8 bits, or for a ggml block type the
// llama.cpp types of the same family; with the default candidates added when that gives fewer
// than two specs (a form no spec describes, such as FP8 in 2-D blocks).
std::vector<QuantSpec> checkpoint_family(const Model& other, const ModelDiff& diff);

// Error naming the layer when no candidate applies to a layer, or when no plan fits the
// checkpoint's size (its bits are below the cheapest candidates').
PlanAtSize plan_at_checkpoint_size(const Model& base, const Model& other, const ModelDiff& diff,
                                   std::vector<QuantSpec> candidates = {}, const Progress& progress = {},
                                   const CancelToken* cancel = nullptr);

nlohmann::ordered_json to_json(const PlanAtSize& plan);
std::string to_table(const PlanAtSize& plan);
std::string to_csv(const PlanAtSize& plan);  // one row per planned layer, then a "(total)" row

}  // namespace quantlens

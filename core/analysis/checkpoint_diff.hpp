#pragma once
// Two versions of a model compared layer by layer: a float model against its quantized export or
// a checkpoint someone else quantized (whose weights QuantLens reads dequantized), or two
// fine-tunes. Layers pair across formats and naming schemes (docs/diff.md): by layer name, by
// weight tensor name, by llama.cpp name (a Hugging Face llama folder against a GGUF, q and k rows
// permuted as llama.cpp's converter permutes them), and a fused projection (qkv_proj, attn_qkv,
// gate_up_proj) against its split parts, rows concatenated. Every weight is compared output
// channels first, so GPT-2's Conv1D and Keras kernels pair with their transposes.
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "quant/metrics_kernels.hpp"
#include "quant/quantizer.hpp"
#include "util/progress.hpp"

namespace quantlens {

struct LayerDiff {
    std::string layer;        // the base's name (a fused layer's, or its parts' joined by '+')
    std::string other_layer;  // the other's, when it differs
    std::vector<std::string> base_parts, other_parts;  // the layers each side's weight is made of
    std::string stored;               // how the other file stores its weight ("int8 per-channel", "Q4_0")
    std::vector<std::int64_t> shape;  // output channels first
    double bits_per_weight = 0;       // the other file's bytes for the weight, per value
    bool quantized = false;  // the other stores it quantized (packed, in blocks, or in 8 bits or fewer)
    QuantMetrics metrics;    // the other's weights as an approximation of the base's
    ErrorSums sums;          // behind `metrics`, for totals over any set of rows
    std::string pairing;     // how the pair was found: "name", "llama.cpp name", ...
    std::string error;       // why there are no metrics (shapes that differ)
};

struct ModelDiff {
    std::string base, other;
    std::vector<LayerDiff> layers;
    std::vector<std::string> only_in_base, only_in_other;
    // Over every paired layer with metrics: MSE per value, SQNR of all weights, and the other's
    // bits per weight.
    double mse = 0, sqnr_db = 0, bits_per_weight = 0;
    std::uint64_t parameters = 0;
    std::uint64_t bytes_read = 0;  // of both files, for throughput
};

// The error sums of `other` as an approximation of `base` (same length), in double precision,
// each difference taken in double as NumPy takes it from float32 arrays: every diff figure
// comes from these (metrics_from_sums), so a diff's MSE is NumPy's up to summation order.
ErrorSums weight_error_sums(std::span<const float> base, std::span<const float> other);

ModelDiff diff_models(const Model& base, const Model& other, const Progress& progress = {},
                      const CancelToken* cancel = nullptr);

inline constexpr const char* kDiffSchema = "quantlens.diff/1";
nlohmann::ordered_json to_json(const ModelDiff& diff);
std::string to_table(const ModelDiff& diff);
std::string to_csv(const ModelDiff& diff);  // one row per layer, then a "(total)" row

}  // namespace quantlens

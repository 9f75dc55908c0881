#pragma once
// The quantizer module's entry point. Every part of QuantLens that quantizes (preview,
// comparison, allocation, export) calls quantize(); nothing else quantizes.
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "quant/quant_spec.hpp"
#include "stats/histogram.hpp"
#include "util/progress.hpp"

namespace quantlens {

// A weight as a matrix, output channels as rows (conv [out, in, kh, kw] -> [out, in*kh*kw];
// a 1-D tensor is one row). Row-major.
struct WeightMatrix {
    std::span<const float> values;
    std::int64_t rows = 0, cols = 0;
};
WeightMatrix as_matrix(std::span<const float> values, const std::vector<std::int64_t>& out_first_shape);

// Calibration inputs of the layer, X [samples, cols] row-major (cols = the weight's input
// dimension): needed by round=gptq (H = 2XᵀX/N) and smooth=alpha (per-channel max|x|).
struct CalibrationInputs {
    std::span<const float> values;
    std::int64_t samples = 0, features = 0;
};

struct QuantOptions {
    const CalibrationInputs* inputs = nullptr;
    const CancelToken* cancel = nullptr;
    // Per input column (cols of the weight matrix): llama.cpp's importance matrix for this
    // layer, used by the ggml types as llama-quantize --imatrix uses it. Empty: none.
    std::span<const float> importance;
    std::size_t histogram_bins = 256;
    bool weight_histogram = false;  // also fill QuantResult::weight_histogram (previews)
    bool codes = true;              // fill QuantResult::codes (export needs them; a preview does not)
    bool error_histogram =
        true;  // fill QuantResult::error_histogram (previews; an analysis needs only the metrics)
};

struct ErrorSums;

struct QuantMetrics {
    double mse = 0, rmse = 0, sqnr_db = 0, cosine = 0, max_abs_error = 0;
    float min_error = 0, max_error = 0;  // of dequantized − original
    double bits_per_weight = 0;          // element bits + scale/zero-point overhead, measured
    std::uint64_t size_bytes = 0;
    std::uint64_t scales = 0, zero_points = 0;
    // With an importance matrix (QuantOptions::importance): (1/n) Σ_rc imp_c · (Q(W) − W)_rc²,
    // the error as llama.cpp's importance weights it (the layer's output error for inputs with
    // those mean squares). NaN without one.
    double importance_mse = std::numeric_limits<double>::quiet_NaN();
};

struct QuantResult {
    QuantSpec spec;
    std::int64_t rows = 0, cols = 0;
    std::vector<float> dequantized;         // original basis, same layout as the input
    std::vector<float> transformed;         // the weights after rotation/smoothing (empty when none)
    std::vector<std::int32_t> codes;        // per element, ready for packing (grid code: integer,
                                            // table index or minifloat bit pattern); empty for casts/ggml
    std::vector<float> scales;              // per group, in group order (row-major over groups)
    std::vector<std::int32_t> zero_points;  // asymmetric integers only
    std::int64_t group_elements = 0;        // elements per full group (contiguous in row-major order)
    std::vector<std::uint8_t> blocks;       // ggml / MX / NVFP4: the format's packed bytes
    float tensor_scale = 0;                 // NVFP4's FP32 per-tensor scale
    std::vector<float> levels;              // representable values of one group, in weight units
                                            // of the first group (for drawing over histograms)
    Histogram error_histogram;              // of (dequantized - original)
    Histogram weight_histogram;             // of the original weights, when asked for
    QuantMetrics metrics;
    // Set by a family that measured the error while quantizing (groups still in cache); then
    // quantize() skips its own pass over the weights. Meaningless to callers.
    bool metrics_measured = false;
};

QuantResult quantize(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options = {});

// The same, reusing `result`'s buffers (an interactive preview re-quantizes the same layer
// with one spec after another; reuse spares allocating and zero-filling them each time).
void quantize_into(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options,
                   QuantResult& result);

// Error metrics of an approximation (used by quantize and by comparisons).
QuantMetrics error_metrics(std::span<const float> original, std::span<const float> approximation);
QuantMetrics metrics_from_sums(const ErrorSums& sums, std::size_t count);

}  // namespace quantlens

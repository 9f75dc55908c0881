#pragma once
// Everything the layer inspector draws for one layer and one spec, computed here so the GUI
// only draws: the error metrics, the weights' histogram with the spec's levels and clipping
// range over it, the error histogram, the dequantized weights' histogram on the weights' own
// bins (for overlays), the per-output-channel range and error, and a map of the error per
// channel and group. The quantizer's buffers are reused from call to call (`scratch`), so a
// spec editor re-quantizing a 4096×4096 layer stays within an interactive budget.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quant/quantizer.hpp"

namespace quantlens {

// Mean squared error per output channel (rows) and per group of input columns, averaged into
// at most `max_rows` × `max_cols` cells for display.
struct ErrorMap {
    std::int64_t rows = 0, cols = 0;                       // cells
    std::int64_t rows_per_cell = 1, columns_per_cell = 1;  // weight rows and input columns each cell covers
    std::vector<double> mse;                               // row-major, rows × cols
};

struct LayerPreview {
    QuantSpec spec;
    QuantMetrics metrics;
    Histogram weights, errors, dequantized;  // dequantized: on the weights' bins
    // With PreviewOptions::central_range: the same three over the central 99.9% of the weights
    // (dequantized on those bins) and of the errors, so heavy tails do not squeeze the bulk.
    std::optional<Histogram> central_weights, central_errors, central_dequantized;
    std::vector<float> levels;                    // representable values of the first group, in weight units
    float clip_low = 0, clip_high = 0;            // the first group's lowest and highest level
    std::vector<float> channel_min, channel_max;  // per output channel, of the original weights
    std::vector<double> channel_rmse;             // per output channel, of the error
    ErrorMap error_map;
    // compare_on_layer: why the spec does not apply to this layer (say, a ggml block type on rows
    // that are not whole blocks); then only `spec` and `weights` are filled.
    std::string error;
};

struct PreviewOptions {
    std::size_t bins = 256;
    std::int64_t map_rows = 256, map_cols = 256;
    const CalibrationInputs* inputs = nullptr;  // for round=gptq and smooth=
    const CancelToken* cancel = nullptr;
    std::span<const float> importance;  // per input column (ggml types; Model::importance)
    bool central_range = false;         // also the central-99.9% histograms (a partial sort each)
};

LayerPreview preview_layer(const WeightMatrix& weights, const QuantSpec& spec, const PreviewOptions& options,
                           QuantResult& scratch);

// Two to four specs on one layer, side by side: each spec's preview, and its error against
// bits per weight when its bits vary (integer and log2 grids: 2 … 8 bits with the same
// options; other formats: the spec alone), for the compare view's SQNR-versus-bits curves.
// A spec that does not apply to the layer gets a preview holding only its `error` and an
// empty curve, in its place; the others are compared as usual.
struct BitsPoint {
    QuantSpec spec;
    double bits_per_weight = 0, sqnr_db = 0;
};
struct SpecsOnLayer {
    std::vector<LayerPreview> previews;          // one per spec
    std::vector<std::vector<BitsPoint>> curves;  // one per spec, bits rising
};
std::vector<QuantSpec> bits_sweep(const QuantSpec& spec);
SpecsOnLayer compare_on_layer(const WeightMatrix& weights, const std::vector<QuantSpec>& specs,
                              const PreviewOptions& options, const Progress& progress = {});

// Groups of input columns a spec scales together in a row of `cols` (the whole row for
// per-channel and per-tensor scales), for the error map's columns.
std::int64_t group_columns(const QuantSpec& spec, std::int64_t cols);

}  // namespace quantlens

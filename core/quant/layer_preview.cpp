#include "quant/layer_preview.hpp"

#include <algorithm>
#include <cmath>

#include "util/parallel.hpp"

namespace quantlens {

std::int64_t group_columns(const QuantSpec& spec, std::int64_t cols) {
    if (spec.granularity == Granularity::Group || spec.granularity == Granularity::Block)
        return std::clamp<std::int64_t>(spec.group_size, 1, std::max<std::int64_t>(cols, 1));
    return std::max<std::int64_t>(cols, 1);
}

LayerPreview preview_layer(const WeightMatrix& weights, const QuantSpec& spec, const PreviewOptions& options,
                           QuantResult& scratch) {
    QuantOptions quant;
    quant.inputs = options.inputs;
    quant.cancel = options.cancel;
    quant.importance = options.importance;
    quant.histogram_bins = options.bins;
    quant.weight_histogram = true;
    quant.codes = false;
    quantize_into(weights, spec, quant, scratch);

    LayerPreview preview;
    preview.spec = spec;
    preview.metrics = scratch.metrics;
    preview.weights = scratch.weight_histogram;
    preview.errors = scratch.error_histogram;
    preview.levels = scratch.levels;
    if (!preview.levels.empty()) {
        const auto [low, high] = std::minmax_element(preview.levels.begin(), preview.levels.end());
        preview.clip_low = *low;
        preview.clip_high = *high;
    }
    preview.dequantized =
        histogram(scratch.dequantized, options.bins, static_cast<float>(preview.weights.low),
                  static_cast<float>(preview.weights.high), 0);
    if (options.central_range) {
        preview.central_weights = central_histogram(weights.values, options.bins);
        preview.central_dequantized = histogram_within(scratch.dequantized, options.bins,
                                                       static_cast<float>(preview.central_weights->low),
                                                       static_cast<float>(preview.central_weights->high));
        std::vector<float> errors(weights.values.size());
        for (std::size_t i = 0; i < errors.size(); ++i)
            errors[i] = scratch.dequantized[i] - weights.values[i];
        preview.central_errors = central_histogram(errors, options.bins);
    }

    const auto rows = std::max<std::int64_t>(weights.rows, 1), cols = std::max<std::int64_t>(weights.cols, 1);
    const auto group = group_columns(spec, cols);
    const auto groups = (cols + group - 1) / group;
    auto& map = preview.error_map;
    map.rows_per_cell = (rows + options.map_rows - 1) / options.map_rows;
    map.columns_per_cell = group * ((groups + options.map_cols - 1) / options.map_cols);
    map.rows = (rows + map.rows_per_cell - 1) / map.rows_per_cell;
    map.cols = (cols + map.columns_per_cell - 1) / map.columns_per_cell;
    map.mse.assign(static_cast<std::size_t>(map.rows * map.cols), 0.0);
    preview.channel_min.assign(static_cast<std::size_t>(rows), 0);
    preview.channel_max.assign(static_cast<std::size_t>(rows), 0);
    preview.channel_rmse.assign(static_cast<std::size_t>(rows), 0);
    std::vector<double> row_cells(static_cast<std::size_t>(rows * map.cols), 0.0);
    // One pass per row: its range, its error, and its share of each map cell, a cell's columns
    // at a time (no division per element; independent lanes so the sums and extremes vectorise).
    parallel_for(static_cast<std::size_t>(rows), 16, [&](std::size_t begin, std::size_t end) {
        for (std::size_t r = begin; r < end; ++r) {
            const float* w = weights.values.data() + r * static_cast<std::size_t>(cols);
            const float* q = scratch.dequantized.data() + r * static_cast<std::size_t>(cols);
            float lows[8], highs[8];
            std::fill(lows, lows + 8, w[0]);
            std::fill(highs, highs + 8, w[0]);
            double total = 0;
            for (std::int64_t cell = 0; cell < map.cols; ++cell) {
                const std::int64_t first = cell * map.columns_per_cell,
                                   last = std::min(cols, first + map.columns_per_cell);
                double lanes[8] = {};
                std::int64_t c = first;
                for (; c + 8 <= last; c += 8)
                    for (int k = 0; k < 8; ++k) {
                        const float x = w[c + k];
                        lows[k] = std::min(lows[k], x);
                        highs[k] = std::max(highs[k], x);
                        const double e = static_cast<double>(q[c + k]) - x;
                        lanes[k] += e * e;
                    }
                for (; c < last; ++c) {
                    lows[0] = std::min(lows[0], w[c]);
                    highs[0] = std::max(highs[0], w[c]);
                    const double e = static_cast<double>(q[c]) - w[c];
                    lanes[0] += e * e;
                }
                double sum = 0;
                for (double lane : lanes)
                    sum += lane;
                row_cells[r * static_cast<std::size_t>(map.cols) + static_cast<std::size_t>(cell)] = sum;
                total += sum;
            }
            preview.channel_min[r] = *std::min_element(lows, lows + 8);
            preview.channel_max[r] = *std::max_element(highs, highs + 8);
            preview.channel_rmse[r] = std::sqrt(total / static_cast<double>(cols));
        }
    });
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < map.cols; ++c)
            map.mse[static_cast<std::size_t>((r / map.rows_per_cell) * map.cols + c)] +=
                row_cells[static_cast<std::size_t>(r * map.cols + c)];
    for (std::int64_t cr = 0; cr < map.rows; ++cr)
        for (std::int64_t cc = 0; cc < map.cols; ++cc) {
            const auto cell_rows = std::min(map.rows_per_cell, rows - cr * map.rows_per_cell);
            const auto cell_cols = std::min(map.columns_per_cell, cols - cc * map.columns_per_cell);
            map.mse[static_cast<std::size_t>(cr * map.cols + cc)] /=
                static_cast<double>(cell_rows * cell_cols);
        }
    return preview;
}

std::vector<QuantSpec> bits_sweep(const QuantSpec& spec) {
    if (spec.format != QuantFormat::Int && spec.format != QuantFormat::Log2)
        return {spec};
    std::vector<QuantSpec> sweep;
    for (int bits = 2; bits <= 8; ++bits) {
        QuantSpec varied = spec;
        varied.bits = bits;
        sweep.push_back(varied);
    }
    return sweep;
}

SpecsOnLayer compare_on_layer(const WeightMatrix& weights, const std::vector<QuantSpec>& specs,
                              const PreviewOptions& options, const Progress& progress) {
    SpecsOnLayer comparison;
    std::size_t total = specs.size(), done = 0;
    for (const auto& spec : specs)
        total += bits_sweep(spec).size();
    QuantResult scratch;
    for (const auto& spec : specs) {
        if (progress)
            progress(done++, total, spec.to_string());
        try {
            comparison.previews.push_back(preview_layer(weights, spec, options, scratch));
        } catch (const Error& error) {  // n/a in place: the other specs still compare
            LayerPreview unavailable;
            unavailable.spec = spec;
            unavailable.error = error.reason();
            unavailable.weights = histogram(weights.values, options.bins);
            if (options.central_range)
                unavailable.central_weights = central_histogram(weights.values, options.bins);
            comparison.previews.push_back(std::move(unavailable));
        }
    }
    QuantOptions quant;
    quant.inputs = options.inputs;
    quant.cancel = options.cancel;
    quant.importance = options.importance;
    quant.codes = false;
    quant.error_histogram = false;
    for (std::size_t k = 0; k < specs.size(); ++k) {
        std::vector<BitsPoint> curve;
        for (const auto& varied : bits_sweep(specs[k])) {
            if (progress)
                progress(done++, total, varied.to_string());
            if (!comparison.previews[k].error.empty())
                continue;
            try {
                quantize_into(weights, varied, quant, scratch);
                curve.push_back({varied, scratch.metrics.bits_per_weight, scratch.metrics.sqnr_db});
            } catch (const Error&) {  // this bit width does not apply (a point fewer on the curve)
            }
        }
        comparison.curves.push_back(std::move(curve));
    }
    if (progress)
        progress(total, total, "");
    return comparison;
}

}  // namespace quantlens

#include "analysis/layer_analysis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "util/error.hpp"

namespace quantlens {

namespace {

bool has_spec(const LayerAnalysis& analysis, std::size_t index) {
    return index < analysis.quantization.size() &&
           (analysis.quantization[index].metrics || !analysis.quantization[index].error.empty());
}

bool wants_qsur(const std::vector<std::int64_t>& shape, const AnalysisOptions& options) {
    return options.qsur && shape.size() >= 2 && shape[0] >= 2;
}

std::int64_t input_width(const std::vector<std::int64_t>& shape) {
    std::int64_t width = 1;
    for (std::size_t i = 1; i < shape.size(); ++i)
        width *= shape[i];
    return width;
}

// QSUR is asked for, possible, and within the width limit.
bool qsur_applies(const std::vector<std::int64_t>& shape, const AnalysisOptions& options) {
    return wants_qsur(shape, options) && input_width(shape) <= options.qsur_max_width;
}

// Where a weight's first non-finite value sits in the file: for a ggml block type, the block,
// whose scale is then what is corrupt (a NaN or infinite half, since codes are bounded).
std::string first_non_finite(const Model& model, const Layer& layer) {
    const auto& info = model.file().tensor(layer.weight);
    const auto stored = model.file().read_f32(info);
    const auto values = stored.values();
    const auto at = std::find_if(values.begin(), values.end(), [](float v) { return !std::isfinite(v); });
    if (at == values.end())
        return {};
    const auto index = static_cast<std::uint64_t>(at - values.begin());
    const auto& type = dtype_info(info.dtype);
    if (!type.is_block)
        return " (the first at stored value " + std::to_string(index) + ")";
    const auto block = index / type.block_elements;
    return " (the first in " + std::string(type.name) + " block " + std::to_string(block) + ", values " +
           std::to_string(block * type.block_elements) + ".." +
           std::to_string((block + 1) * type.block_elements - 1) + ", at byte " +
           std::to_string(block * type.block_bytes) +
           " of the tensor: a corrupt block, its scale not finite or overflowing)";
}

}  // namespace

std::string qsur_skip_reason(const std::vector<std::int64_t>& shape, const AnalysisOptions& options) {
    if (!wants_qsur(shape, options) || qsur_applies(shape, options))
        return {};
    const std::int64_t width = input_width(shape);
    const double gib = 8.0 * static_cast<double>(width) * static_cast<double>(width) / (1 << 30);
    const double seconds = 1.5 * std::pow(static_cast<double>(width) / 4096.0, 3);
    char text[256];
    std::snprintf(
        text, sizeof text,
        "QSUR skipped: %lld inputs exceed the width limit of %lld (its covariance needs %.1f GiB and "
        "about %.0f s on 2 cores; raise the limit with --qsur-max-width)",
        static_cast<long long>(width), static_cast<long long>(options.qsur_max_width), gib, seconds);
    return text;
}

bool is_complete(const LayerAnalysis& cached, const AnalysisOptions& options) {
    if (cached.statistics.count == 0 || cached.statistics.outlier_k != options.statistics.outlier_k ||
        cached.statistics.histogram.counts.size() != options.statistics.bins)
        return false;
    if (qsur_applies(cached.shape, options) && !cached.qsur)
        return false;
    for (std::size_t k = 0; k < options.specs.size(); ++k)
        if (!has_spec(cached, k))
            return false;
    return true;
}

LayerAnalysis analyze_layer(const Model& model, const Layer& layer, const AnalysisOptions& options,
                            std::optional<LayerAnalysis> partial, const CancelToken* cancel,
                            QuantResult* scratch) {
    LayerAnalysis result = partial ? std::move(*partial) : LayerAnalysis{};
    result.quantization.resize(options.specs.size());
    if (partial && is_complete(result, options)) {
        result.from_cache = true;
        result.qsur_skipped = result.qsur ? std::string() : qsur_skip_reason(result.shape, options);
        return result;
    }
    result.from_cache = false;
    auto weights = model.read_weights(layer);
    auto matrix = as_matrix(weights.values(), weights.shape);
    result.layer = layer.name;
    result.kind = layer.kind;
    result.shape = weights.shape;
    result.parameters = weights.values().size();
    if (result.statistics.count == 0 || result.statistics.outlier_k != options.statistics.outlier_k ||
        result.statistics.histogram.counts.size() != options.statistics.bins)
        try {
            result.statistics = layer_statistics(matrix.values, matrix.rows, matrix.cols, options.statistics);
        } catch (const Error& error) {
            // Name the file and the stored tensor, and where in it the first bad value sits.
            throw Error(model.file().path(), layer.weight, error.reason() + first_non_finite(model, layer));
        }
    if (cancel)
        cancel->throw_if_cancelled();
    result.qsur_skipped = result.qsur ? std::string() : qsur_skip_reason(weights.shape, options);
    if (qsur_applies(weights.shape, options) && !result.qsur)
        result.qsur = qsur(matrix.values, matrix.rows, matrix.cols, options.qsur_options);
    QuantOptions quant_options;
    quant_options.cancel = cancel;
    quant_options.codes = false;
    quant_options.error_histogram = false;
    quant_options.importance = model.importance(layer);
    QuantResult local;
    QuantResult& buffers = scratch ? *scratch : local;
    for (std::size_t k = 0; k < options.specs.size(); ++k) {
        if (has_spec(result, k))
            continue;
        SpecOutcome outcome;
        try {
            quantize_into(matrix, options.specs[k], quant_options, buffers);
            outcome.metrics = buffers.metrics;
        } catch (const NonFiniteResult& error) {
            outcome.error = error.reason();
            outcome.failed = true;
        } catch (const Error& error) {
            outcome.error = error.reason();
        }
        result.quantization[k] = std::move(outcome);
    }
    return result;
}

}  // namespace quantlens

#include "analysis/layer_analysis.hpp"

namespace quantlens {

namespace {

bool has_spec(const LayerAnalysis& analysis, std::size_t index) {
    return index < analysis.quantization.size() &&
           (analysis.quantization[index].metrics || !analysis.quantization[index].error.empty());
}

}  // namespace

bool is_complete(const LayerAnalysis& cached, const AnalysisOptions& options) {
    if (cached.statistics.count == 0 || cached.statistics.outlier_k != options.statistics.outlier_k ||
        cached.statistics.histogram.counts.size() != options.statistics.bins)
        return false;
    if (options.qsur && cached.shape.size() >= 2 && cached.shape[0] >= 2 && !cached.qsur)
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
        result.statistics = layer_statistics(matrix.values, matrix.rows, matrix.cols, options.statistics);
    if (cancel)
        cancel->throw_if_cancelled();
    if (options.qsur && matrix.rows >= 2 && weights.shape.size() >= 2 && !result.qsur)
        result.qsur = qsur(matrix.values, matrix.rows, matrix.cols, options.qsur_options);
    QuantOptions quant_options;
    quant_options.cancel = cancel;
    quant_options.codes = false;
    quant_options.error_histogram = false;
    QuantResult local;
    QuantResult& buffers = scratch ? *scratch : local;
    for (std::size_t k = 0; k < options.specs.size(); ++k) {
        if (has_spec(result, k))
            continue;
        SpecOutcome outcome;
        try {
            quantize_into(matrix, options.specs[k], quant_options, buffers);
            outcome.metrics = buffers.metrics;
        } catch (const Error& error) {
            outcome.error = error.reason();
        }
        result.quantization[k] = std::move(outcome);
    }
    return result;
}

}  // namespace quantlens

#include "quant/comparison.hpp"

#include <cmath>

#include "util/error.hpp"

namespace quantlens {

bool is_quantizable(LayerKind kind) {
    return kind == LayerKind::Linear || kind == LayerKind::Conv || kind == LayerKind::Embedding;
}

std::vector<const Layer*> quantizable_layers(const Model& model) {
    std::vector<const Layer*> layers;
    for (const auto& layer : model.layers())
        if (is_quantizable(layer.kind))
            layers.push_back(&layer);
    return layers;
}

Comparison compare_specs(const Model& model, const std::vector<const Layer*>& layers,
                         const std::vector<QuantSpec>& specs, const Progress& progress,
                         const CancelToken* cancel) {
    Comparison result;
    result.specs = specs;
    std::vector<double> signal(specs.size(), 0), noise(specs.size(), 0), bits(specs.size(), 0);
    result.totals.assign(specs.size(), {});
    std::uint64_t total = 0, done = 0;
    for (const auto* layer : layers)
        total += model.file().tensor(layer->weight).elements();
    for (const auto* layer : layers) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (progress)
            progress(done, total, layer->name);
        auto weights = model.read_weights(*layer);
        auto matrix = as_matrix(weights.values(), weights.shape);
        LayerComparison row{layer->name, weights.values().size(), {}};
        double layer_signal = 0;
        for (float v : weights.values())
            layer_signal += static_cast<double>(v) * v;
        for (std::size_t s = 0; s < specs.size(); ++s) {
            SpecOutcome outcome;
            try {
                QuantOptions options;
                options.cancel = cancel;
                options.importance = model.importance(*layer);
                auto quantized = quantize(matrix, specs[s], options);
                outcome.metrics = quantized.metrics;
                signal[s] += layer_signal;
                noise[s] += quantized.metrics.mse * static_cast<double>(row.parameters);
                bits[s] += quantized.metrics.bits_per_weight * static_cast<double>(row.parameters);
                result.totals[s].parameters += row.parameters;
                ++result.totals[s].layers;
                result.totals[s].size_bytes += quantized.metrics.size_bytes;
            } catch (const NonFiniteResult& error) {
                outcome.error = error.reason();
                outcome.failed = true;
                ++result.totals[s].skipped_layers;
            } catch (const Error& error) {
                outcome.error = error.reason();
                ++result.totals[s].skipped_layers;
            }
            row.outcomes.push_back(std::move(outcome));
        }
        done += row.parameters;
        result.parameters += row.parameters;
        result.layers.push_back(std::move(row));
    }
    for (std::size_t s = 0; s < specs.size(); ++s) {
        auto& t = result.totals[s];
        // No layer measured (each failed or did not apply): no figure, rather than a lossless inf.
        t.sqnr_db = t.parameters == 0 ? NAN : noise[s] > 0 ? 10 * std::log10(signal[s] / noise[s]) : INFINITY;
        t.bits_per_weight = t.parameters ? bits[s] / static_cast<double>(t.parameters) : 0;
    }
    if (progress)
        progress(total, total, "");
    return result;
}

std::optional<std::size_t> Comparison::best_total() const {
    std::optional<std::size_t> best;
    for (std::size_t s = 0; s < totals.size(); ++s)
        if (totals[s].complete() && (!best || totals[s].sqnr_db > totals[*best].sqnr_db))
            best = s;
    return best;
}

}  // namespace quantlens

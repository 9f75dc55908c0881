#include "sensitivity/importance_capture.hpp"

#include <filesystem>

#include "sensitivity/layer_damage.hpp"

namespace quantlens {

ImportanceMatrix capture_importance(const Model& model, const LabelledData& data, const Progress& progress,
                                    const CancelToken* cancel) {
    DamageOptions options;
    options.measure = false;  // one forward pass: the captured inputs are all it needs
    const auto report = layer_damage(model, data, {}, options, progress, cancel);
    ImportanceMatrix matrix;
    matrix.datasets = {std::filesystem::path(data.path).filename().string()};
    matrix.chunk_count = static_cast<std::uint32_t>(report.samples);
    for (const auto& damage : report.layers) {
        if (damage.importance.empty() || damage.input_rows == 0)
            continue;  // depthwise: no shared input columns
        const Layer& layer = model.layer(damage.layer);
        const auto name = model.importance_name(layer);  // llama.cpp's name, else the weight's own
        ImportanceEntry entry;
        // importance holds Σx²/N over N samples; the file holds Σx² and the row count.
        for (const double mean : damage.importance)
            entry.sums.push_back(static_cast<float>(mean * static_cast<double>(report.samples)));
        entry.counts = {static_cast<std::int64_t>(damage.input_rows)};
        for (const float sum : entry.sums)
            entry.weights.push_back(sum / static_cast<float>(damage.input_rows));
        matrix.chunk_size =
            static_cast<std::uint32_t>(damage.input_rows / std::max<std::size_t>(report.samples, 1));
        matrix.entries.emplace(name, std::move(entry));
    }
    return matrix;
}

}  // namespace quantlens

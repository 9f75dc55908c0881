// Model's importance-matrix look-up (model.hpp): which llama.cpp name a layer's weight has, and
// its per-column weights.
#include "model/llama_names.hpp"
#include "model/model.hpp"
#include "util/error.hpp"

#include <atomic>
#include <mutex>

namespace quantlens {

// Every matrix ever attached (kept, so spans into them stay valid) and the current one.
struct Model::ImportanceState {
    std::mutex mutex;
    std::vector<std::shared_ptr<const ImportanceMatrix>> attached;
    std::atomic<const ImportanceMatrix*> current{nullptr};
};

std::shared_ptr<Model::ImportanceState> Model::new_importance_state() {
    return std::make_shared<ImportanceState>();
}

void Model::attach_importance(std::shared_ptr<const ImportanceMatrix> matrix) {
    std::lock_guard lock(importance_->mutex);
    importance_->attached.push_back(matrix);
    importance_->current.store(matrix.get());
}

const ImportanceMatrix* Model::importance_matrix() const {
    return importance_->current.load();
}

std::string Model::llama_cpp_name(const Layer& layer) const {
    if (layer.weight.empty())
        return "";
    if (file_->format() == "gguf")
        return layer.weight;
    return find_llama_cpp_tensor_name(layer.weight).value_or("");
}

std::string Model::importance_name(const Layer& layer) const {
    const auto name = llama_cpp_name(layer);
    return name.empty() ? layer.weight : name;
}

std::span<const float> Model::importance(const Layer& layer) const {
    const ImportanceMatrix* matrix = importance_matrix();
    if (!matrix)
        return {};
    const auto name = importance_name(layer);
    const auto found = matrix->entries.find(name);
    if (name.empty() || found == matrix->entries.end())
        return {};
    // The weight matrix's row length, output channels first (a GPT-2 Conv1D stores [in, out]).
    const auto& info = file_->tensor(layer.weight);
    const auto shape = normalised_shape(info.shape, layer.orientation);
    const std::int64_t columns = shape.empty() || shape[0] == 0 ? 0 : info.elements() / shape[0];
    const auto& weights = found->second.weights;
    if (static_cast<std::int64_t>(weights.size()) == columns && found->second.counts.size() == 1)
        return weights;
    if (name == "token_embd.weight")  // llama-quantize, too, ignores a mismatched embedding entry
        return {};
    throw Error(
        matrix->path, name,
        "holds " + std::to_string(weights.size()) + " values in " +
            std::to_string(found->second.counts.size()) + " expert(s), but " + layer.weight +
            "'s rows hold " + std::to_string(columns) +
            " (an importance matrix made for another model, or for experts QuantLens quantizes as one)");
}

}  // namespace quantlens

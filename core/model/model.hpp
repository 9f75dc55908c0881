#pragma once
// A model = an opened file plus its layers. Every tensor belongs to exactly one layer:
// layers from the file's own graph (Keras config, ONNX graph) come first, the remaining
// tensors are grouped by name (".weight"/".bias", "/kernel:0") and classified by name
// and rank.
#include <memory>
#include <string>
#include <vector>

#include "io/imatrix.hpp"
#include "io/model_file.hpp"
#include "tensor/layer.hpp"

namespace quantlens {

struct LayerWeights {
    std::vector<std::int64_t> shape;  // output channels first
    std::vector<float> owned;         // filled when the stored layout had to be reordered
    FloatValues stored;               // the decoded tensor as stored
    std::span<const float> values() const {
        return owned.empty() ? stored.values() : std::span<const float>(owned);
    }
};

class Model {
public:
    static Model open(const std::string& path);
    explicit Model(std::unique_ptr<ModelFile> file);

    const ModelFile& file() const { return *file_; }
    const std::vector<Layer>& layers() const { return layers_; }
    const Layer& layer(const std::string& name) const;  // Error when absent
    std::string architecture() const;                   // "gpt2", "llama", "Sequential", ...

    LayerWeights read_weights(const Layer& layer) const;

    // A llama.cpp importance matrix for this model's weights (model/model_importance.cpp),
    // matched by llama.cpp tensor name: a GGUF's own names, a Hugging Face llama-family
    // folder's through model/llama_names. Every quantizer run on this model's layers uses it.
    // Safe while other threads quantize this model's layers: a matrix once attached stays alive
    // as long as the model, so a span importance() gave out never dangles.
    void attach_importance(std::shared_ptr<const ImportanceMatrix> matrix);
    const ImportanceMatrix* importance_matrix() const;
    // llama.cpp's name for the layer's weight: a GGUF's own, a Hugging Face llama-family
    // folder's through model/llama_names; "" for other models.
    std::string llama_cpp_name(const Layer& layer) const;
    // The name an importance matrix holds the layer's weight under: llama_cpp_name, else the
    // weight tensor's own name (as `quantlens-cli imatrix` writes it for other models).
    std::string importance_name(const Layer& layer) const;
    // The layer's per-input-column weights, or empty when no matrix is attached or it has no
    // entry for the layer (llama-quantize then quantizes without). Error when the entry's
    // length is not the weight's row length (llama-quantize refuses that too).
    std::span<const float> importance(const Layer& layer) const;

private:
    std::unique_ptr<ModelFile> file_;
    std::vector<Layer> layers_;
    struct ImportanceState;  // model_importance.cpp; made with the model, never replaced
    static std::shared_ptr<ImportanceState> new_importance_state();
    std::shared_ptr<ImportanceState> importance_ = new_importance_state();
};

std::vector<Layer> group_layers(const ModelFile& file);

// Reorders values stored as `stored_shape` in `orientation` to output-channels-first.
std::vector<float> reorient(std::span<const float> values, const std::vector<std::int64_t>& stored_shape,
                            Orientation orientation);
// The inverse of reorient(): output-channels-first values back to the stored shape's layout.
std::vector<float> to_stored_layout(std::span<const float> out_first,
                                    const std::vector<std::int64_t>& stored_shape, Orientation orientation);

}  // namespace quantlens

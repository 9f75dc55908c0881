#pragma once
// A model = an opened file plus its layers. Every tensor belongs to exactly one layer:
// layers from the file's own graph (Keras config, ONNX graph) come first, the remaining
// tensors are grouped by name (".weight"/".bias", "/kernel:0") and classified by name
// and rank.
#include <memory>
#include <string>
#include <vector>

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

private:
    std::unique_ptr<ModelFile> file_;
    std::vector<Layer> layers_;
};

std::vector<Layer> group_layers(const ModelFile& file);

// Reorders values stored as `stored_shape` in `orientation` to output-channels-first.
std::vector<float> reorient(std::span<const float> values, const std::vector<std::int64_t>& stored_shape,
                            Orientation orientation);
// The inverse of reorient(): output-channels-first values back to the stored shape's layout.
std::vector<float> to_stored_layout(std::span<const float> out_first,
                                    const std::vector<std::int64_t>& stored_shape, Orientation orientation);

}  // namespace quantlens

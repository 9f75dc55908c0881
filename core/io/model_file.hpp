#pragma once
// The one interface every format reader implements. Opening reads
// headers only; tensor bytes are read (or mapped) when asked for.
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/layer.hpp"
#include "tensor/tensor.hpp"

namespace quantlens {

class ModelFile {
public:
    virtual ~ModelFile() = default;

    virtual std::string_view format() const = 0;  // "safetensors", "gguf", "hdf5", ...
    const std::string& path() const { return path_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo& tensor(std::string_view name) const;  // Error when absent
    // A tensor by name: a listed one, or a part fold_checkpoint_weights() took out of the listing
    // (a GPTQ qweight, a compressed-tensors weight_shape); Error when neither.
    const TensorInfo& tensor_or_part(std::string_view name) const;

    // The tensor's bytes; for a stored quantization (TensorInfo::quantization) the dequantized
    // float32 values, read from its parts.
    TensorBytes read(const TensorInfo& info) const;
    FloatValues read_f32(const TensorInfo& info) const;
    // The same into `out`, resized to the tensor's values with its capacity kept: a loop over
    // layers that reuses one vector first-touches its memory once (page faults, not decoding,
    // were most of a diff's time with a fresh buffer per layer). Mapped pages are released after.
    void read_f32_into(const TensorInfo& info, std::vector<float>& out) const;

    // Format metadata (GGUF key/values, safetensors __metadata__, HDF5 attributes, ...).
    const nlohmann::json& metadata() const { return metadata_; }
    // Layers the file's own graph or config describes (Keras model_config, ONNX graph);
    // empty when the format only has named tensors.
    const std::vector<Layer>& graph_layers() const { return graph_layers_; }
    // Architecture config (Hugging Face config.json), when the model has one.
    const nlohmann::json& config() const { return config_; }

    // Tensors the file holds that could not be read (a type QuantLens does not decode, a missing
    // external data file): the model opens without them, and every summary says so.
    struct LeftOut {
        std::string name;
        std::uint64_t parameters = 0;  // from its dims (0 when they are unusable too)
        std::string reason;
    };
    const std::vector<LeftOut>& left_out() const { return left_out_; }

protected:
    explicit ModelFile(std::string path) : path_(std::move(path)) {}
    virtual TensorBytes read_bytes(const TensorInfo& info) const = 0;
    void add_tensor(TensorInfo info);  // rejects duplicate names with an Error
    // Lists the packed weights of a safetensors checkpoint (io/checkpoint_quantized.hpp) in place
    // of their parts: each where its first part was. The parts stay readable by name.
    void fold_checkpoint_weights();

    std::string path_;
    nlohmann::json metadata_ = nlohmann::json::object();
    nlohmann::json config_ = nlohmann::json::object();
    std::vector<Layer> graph_layers_;
    std::vector<LeftOut> left_out_;

private:
    TensorBytes dequantized(const TensorInfo& info) const;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string, std::size_t> index_;
    std::unordered_map<std::string, TensorInfo> folded_parts_;
};

}  // namespace quantlens

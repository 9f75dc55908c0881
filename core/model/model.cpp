#include "model/model.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "io/open_model.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

// Splits "h.0.attn.c_attn.weight" into ("h.0.attn.c_attn", "weight") and
// "model_weights/dense/dense/kernel:0" into ("model_weights/dense/dense", "kernel").
std::pair<std::string, std::string> split_name(const std::string& name) {
    auto cut = name.find_last_of("./");
    if (cut == std::string::npos)
        return {name, ""};
    std::string leaf = name.substr(cut + 1);
    if (auto colon = leaf.find(':'); colon != std::string::npos)
        leaf.resize(colon);
    return {name.substr(0, cut), leaf};
}

bool contains_any(const std::string& text, std::initializer_list<const char*> needles) {
    std::string lower = text;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::any_of(needles.begin(), needles.end(),
                       [&](const char* needle) { return lower.find(needle) != std::string::npos; });
}

bool is_gpt2_conv1d(const std::string& prefix, const ModelFile& file) {
    // GPT-2's Conv1D stores [in, out]; HF config says model_type "gpt2", GGUF/ONNX do not use it.
    bool gpt2 = file.config().is_object() && file.config().value("model_type", "") == "gpt2";
    return gpt2 && contains_any(prefix, {"c_attn", "c_proj", "c_fc"});
}

LayerKind classify(const std::string& prefix, const TensorInfo& weight) {
    const auto rank = weight.shape.size();
    if (rank == 2 && contains_any(prefix, {"embed", "wte", "wpe", "token_embd", "tok_embeddings"}))
        return LayerKind::Embedding;
    if (rank <= 1 && contains_any(prefix, {"norm", "ln_", "ln.", "bn", "batch_normalization"}))
        return LayerKind::Norm;
    if (rank == 2)
        return LayerKind::Linear;
    if (rank >= 3 && rank <= 5)
        return LayerKind::Conv;
    return LayerKind::Other;
}

}  // namespace

std::vector<Layer> group_layers(const ModelFile& file) {
    std::vector<Layer> layers = file.graph_layers();
    std::set<std::string> claimed;
    for (const auto& layer : layers) {
        claimed.insert(layer.weight);
        if (layer.bias)
            claimed.insert(*layer.bias);
        claimed.insert(layer.others.begin(), layer.others.end());
    }
    // Group the rest by name prefix, keeping file order.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::pair<std::string, const TensorInfo*>>> groups;
    for (const auto& tensor : file.tensors()) {
        if (claimed.count(tensor.name))
            continue;
        auto [prefix, leaf] = split_name(tensor.name);
        if (leaf.empty())
            prefix = tensor.name;
        if (!groups.count(prefix))
            order.push_back(prefix);
        groups[prefix].push_back({leaf, &tensor});
    }
    for (const auto& prefix : order) {
        const auto& members = groups[prefix];
        Layer layer;
        layer.name = prefix;
        const TensorInfo* weight = nullptr;
        for (const auto& [leaf, info] : members)
            if (!weight && (leaf == "weight" || leaf == "kernel" || leaf == "embeddings" || leaf == "gamma" ||
                            leaf == "scale"))
                weight = info;
        if (!weight) {  // no conventional name: the largest tensor is the weight
            weight = members.front().second;
            for (const auto& member : members)
                if (member.second->elements() > weight->elements())
                    weight = member.second;
        }
        layer.weight = weight->name;
        for (const auto& [leaf, info] : members) {
            if (info == weight)
                continue;
            if (!layer.bias && (leaf == "bias" || leaf == "beta"))
                layer.bias = info->name;
            else
                layer.others.push_back(info->name);
        }
        layer.kind = classify(prefix, *weight);
        if (is_gpt2_conv1d(prefix, file) && weight->shape.size() == 2)
            layer.orientation = Orientation::InOut;
        layers.push_back(std::move(layer));
    }
    return layers;
}

std::vector<float> reorient(std::span<const float> values, const std::vector<std::int64_t>& stored,
                            Orientation orientation) {
    const std::size_t rank = stored.size();
    if (orientation == Orientation::OutFirst || rank < 2)
        return {};
    // Both Keras layouts and [in, out] are "channels last": [spatial..., in, out] with
    // spatial = {} for a matrix. The output index is (out, in, spatial...) except for
    // depthwise, where output channel = in * multiplier + m and the input axis is 1.
    std::size_t spatial = 1;
    for (std::size_t d = 0; d + 2 < rank; ++d)
        spatial *= static_cast<std::size_t>(stored[d]);
    const auto in = static_cast<std::size_t>(stored[rank - 2]),
               out = static_cast<std::size_t>(stored[rank - 1]);
    std::vector<float> result(values.size());
    for (std::size_t s = 0; s < spatial; ++s)
        for (std::size_t i = 0; i < in; ++i)
            for (std::size_t o = 0; o < out; ++o) {
                float value = values[(s * in + i) * out + o];
                if (orientation == Orientation::KerasDepthwise)
                    result[(i * out + o) * spatial + s] = value;
                else
                    result[(o * in + i) * spatial + s] = value;
            }
    return result;
}

Model Model::open(const std::string& path) {
    return Model(open_model_file(path));
}

Model::Model(std::unique_ptr<ModelFile> file) : file_(std::move(file)), layers_(group_layers(*file_)) {}

const Layer& Model::layer(const std::string& name) const {
    for (const auto& layer : layers_)
        if (layer.name == name)
            return layer;
    throw Error(file_->path(), name, "no layer of that name");
}

std::string Model::architecture() const {
    const auto& config = file_->config();
    if (config.is_object() && config.contains("model_type") && config["model_type"].is_string())
        return config["model_type"];
    if (config.is_object() && config.contains("class_name") && config["class_name"].is_string())
        return config["class_name"];
    const auto& metadata = file_->metadata();
    if (metadata.contains("general.architecture") && metadata["general.architecture"].is_string())
        return metadata["general.architecture"];
    if (metadata.contains("producer_name") && metadata["producer_name"].is_string())
        return "onnx:" + metadata["producer_name"].get<std::string>();
    return "";
}

LayerWeights Model::read_weights(const Layer& layer) const {
    const auto& info = file_->tensor(layer.weight);
    LayerWeights weights;
    weights.stored = file_->read_f32(info);
    weights.shape = normalised_shape(info.shape, layer.orientation);
    weights.owned = reorient(weights.stored.values(), info.shape, layer.orientation);
    return weights;
}

std::vector<float> to_stored_layout(std::span<const float> out_first, const std::vector<std::int64_t>& stored,
                                    Orientation orientation) {
    const std::size_t rank = stored.size();
    if (orientation == Orientation::OutFirst || rank < 2)
        return {out_first.begin(), out_first.end()};
    // reorient() reads the stored [spatial..., in, out] into (out, in, spatial...) (depthwise:
    // (in·multiplier + m, spatial)); this writes each value back where it came from.
    std::size_t spatial = 1;
    for (std::size_t d = 0; d + 2 < rank; ++d)
        spatial *= static_cast<std::size_t>(stored[d]);
    const auto in = static_cast<std::size_t>(stored[rank - 2]),
               out = static_cast<std::size_t>(stored[rank - 1]);
    std::vector<float> result(out_first.size());
    for (std::size_t s = 0; s < spatial; ++s)
        for (std::size_t i = 0; i < in; ++i)
            for (std::size_t o = 0; o < out; ++o) {
                const std::size_t from = orientation == Orientation::KerasDepthwise
                                             ? (i * out + o) * spatial + s
                                             : (o * in + i) * spatial + s;
                result[(s * in + i) * out + o] = out_first[from];
            }
    return result;
}

}  // namespace quantlens

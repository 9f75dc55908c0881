#pragma once
// The Hugging Face builders' shared toolkit (internal to core/nn): reading config.json fields
// with errors naming them, and adding nodes whose parameters are the file's tensors.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "nn/graph.hpp"
#include "util/error.hpp"

namespace quantlens::nn::hf {

using json = nlohmann::json;

inline bool has_tensor(const Model& model, const std::string& tensor) {
    for (const auto& info : model.file().tensors())
        if (info.name == tensor)
            return true;
    return false;
}

struct Builder {
    const Model& model;
    const json& config;       // config.json, or the text_config inside it
    const std::string& path;  // the model's, for errors
    Graph graph;
    std::string scope = "config.json";  // how errors name `config`
    double gamma_offset = 0;            // every norm's: 1 for Gemma's (1 + γ)
    // Files in another naming (GGUF): the file's layer for a Hugging Face layer name, the heads
    // a tensor's rows are rotary-interleaved over (ParameterSlot::rotary_heads; 0: none), and
    // whether Gemma's norm weights hold the 1 already.
    std::function<std::string(const std::string&)> rename;
    std::function<std::int64_t(const std::string& tensor)> rotary_heads;
    bool norm_weights_include_one = false;
    bool read_values = true;  // false: slots from the tensors' shapes alone, no weight read

    std::string file_layer(const std::string& hf_layer) const { return rename ? rename(hf_layer) : hf_layer; }

    [[noreturn]] void fail(const std::string& field, const std::string& message) const {
        throw Error(path, scope + " " + field, message);
    }

    std::int64_t integer(const char* key, std::int64_t fallback = -1) const {
        if (!config.contains(key) || config[key].is_null()) {
            if (fallback < 0)
                fail(key, "is missing");
            return fallback;
        }
        if (!config[key].is_number_integer() || config[key].get<std::int64_t>() < 1 ||
            config[key].get<std::int64_t>() > (1 << 24))
            fail(key, "must be a positive integer");
        return config[key].get<std::int64_t>();
    }
    double number(const char* key, double fallback) const {
        if (!config.contains(key) || config[key].is_null())
            return fallback;
        if (!config[key].is_number() || !(config[key].get<double>() > 0))
            fail(key, "must be a positive number");
        return config[key].get<double>();
    }

    void add_slot(Node& node, const char* name, const std::string& tensor,
                  const std::vector<std::int64_t>& shape) {
        const auto& info = model.file().tensor(tensor);  // Error naming the tensor when absent
        if (info.shape != shape)
            throw Error(path, tensor,
                        "shape " + quantlens::shape_text(info.shape) + " where the config needs " +
                            quantlens::shape_text(shape));
        const auto size = static_cast<std::size_t>(info.elements());
        ParameterSlot slot{name, tensor, shape, graph.parameter_count, size};
        slot.rotary_heads = rotary_heads ? rotary_heads(tensor) : 0;
        node.parameters.push_back(slot);
        graph.parameter_count += size;
        if (!read_values)
            return;
        const auto read = model.file().read_f32(info);
        const auto values = graph_order(slot, std::vector<float>(read.values().begin(), read.values().end()));
        graph.parameters.insert(graph.parameters.end(), values.begin(), values.end());
    }
    bool has(const std::string& tensor) const { return has_tensor(model, tensor); }

    void check_positions(std::int64_t positions) const {
        if (graph.input.dims[0] > positions)
            throw Error(path, "calibration",
                        std::to_string(graph.input.dims[0]) + " tokens per sample, the model has " +
                            std::to_string(positions) + " positions");
    }

    int push(Node node) {
        graph.nodes.push_back(std::move(node));
        return static_cast<int>(graph.nodes.size()) - 1;
    }
    Node node(OpKind kind, const std::string& name, const std::string& layer, std::vector<int> inputs,
              Shape out) const {
        Node n;
        n.kind = kind;
        n.name = name;
        n.layer = layer;
        n.inputs = std::move(inputs);
        n.in =
            n.inputs.front() < 0 ? graph.input : graph.nodes[static_cast<std::size_t>(n.inputs.front())].out;
        n.out = std::move(out);
        return n;
    }
    // Layers are named as the file names them (file_layer); callers give Hugging Face's names.
    int linear(const std::string& hf_layer, int input, std::int64_t in, std::int64_t out, bool stored_out_in,
               bool bias) {
        const auto layer = file_layer(hf_layer);
        auto n = node(OpKind::Dense, layer, layer, {input}, {{graph.input.dims[0], out}});
        n.transposed = stored_out_in;
        add_slot(n, "kernel", layer + ".weight",
                 stored_out_in ? std::vector<std::int64_t>{out, in} : std::vector<std::int64_t>{in, out});
        if (bias)
            add_slot(n, "bias", layer + ".bias", {out});
        return push(std::move(n));
    }
    // Normalised over d features per token, or per head when `groups` heads of d are side by
    // side (Qwen3's and Gemma 3's q/k norms).
    int norm(OpKind kind, const std::string& hf_layer, int input, std::int64_t d, double epsilon,
             std::int64_t groups = 1) {
        const auto layer = file_layer(hf_layer);
        auto n = node(kind, layer, layer, {input}, {{graph.input.dims[0], groups * d}});
        if (groups > 1)
            n.in.dims = {graph.input.dims[0], groups, d};
        n.epsilon = epsilon;
        n.gamma_offset = gamma_offset;
        add_slot(n, "gamma", layer + ".weight", {d});
        if (kind == OpKind::LayerNorm)
            add_slot(n, "beta", layer + ".bias", {d});
        return push(std::move(n));
    }
    int activation(const std::string& hf_layer, int input, ActivationKind kind) {
        const auto layer = file_layer(hf_layer);
        auto n = node(OpKind::Activation, layer + "/" + activation_name(kind), layer, {input},
                      graph.nodes[static_cast<std::size_t>(input)].out);
        n.activation = kind;
        return push(std::move(n));
    }
    int binary(OpKind kind, const std::string& name, const std::string& layer, int a, int b) {
        return push(node(kind, name, layer, {a, b}, graph.nodes[static_cast<std::size_t>(a)].out));
    }
    // The head: logits = h·Eᵀ with the embedding's own slot (tied), or lm_head.weight [vocab, d].
    void head(int input, std::int64_t d, std::int64_t vocabulary, int embedding, bool tied) {
        const auto layer = file_layer("lm_head");
        auto n =
            node(OpKind::Dense, layer, tied ? graph.nodes[static_cast<std::size_t>(embedding)].layer : layer,
                 {input}, {{graph.input.dims[0], vocabulary}});
        n.transposed = true;
        if (tied) {
            n.parameters = graph.nodes[static_cast<std::size_t>(embedding)].parameters;
            n.parameters.front().name = "kernel";
        } else {
            add_slot(n, "kernel", layer + ".weight", {vocabulary, d});
        }
        graph.output = push(std::move(n));
    }
};

// The decoder-only families with rotary embeddings, RMSNorm and gated MLPs (hf_decoder.cpp).
void build_decoder(Builder& builder, const std::string& model_type);
bool is_decoder_family(const std::string& model_type);
extern const char* const decoder_families;  // "llama, mistral, …" for messages

}  // namespace quantlens::nn::hf

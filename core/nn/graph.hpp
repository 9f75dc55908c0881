#pragma once
// The model engine's description of a network: a list of nodes in execution order, each an
// operation on the outputs of earlier nodes (or the network's input), with its parameters as
// slots in one flat parameter vector. It holds no values and no scalar type: Network<T> runs it
// in float32 or float64. Builders (Keras today) produce it from a model file; activations are
// nodes of their own, so "the layer's output" (Fisher–Taylor, LRP) is the linear part's output.
#include <cstdint>
#include <string>
#include <vector>

namespace quantlens::nn {

// Per-sample shape: {features}, {height, width, channels} (channels last, as Keras stores it), or
// {tokens, features} for sequences (and {tokens} for the token ids a language model reads).
struct Shape {
    std::vector<std::int64_t> dims;
    std::int64_t size() const {
        std::int64_t n = 1;
        for (auto d : dims)
            n *= d;
        return n;
    }
    std::int64_t last() const { return dims.empty() ? 1 : dims.back(); }
    bool spatial() const { return dims.size() == 3; }
};
std::string shape_text(const Shape& shape);

enum class OpKind {
    Dense,
    Conv2D,
    DepthwiseConv2D,
    BatchNorm,
    Activation,
    MaxPool,
    AvgPool,
    GlobalAvgPool,
    Flatten,
    Add,
    Embedding,
    PositionEmbedding,
    LayerNorm,
    RMSNorm,
    Attention,
    Mul,    // decoder-only transformers
    Slice,  // features [slice_offset, slice_offset + width) of each token (Phi-3's fused gate|up)
};
// SoftCap is Gemma's logit soft-capping, cap·tanh(x/cap), with cap in Node::softcap.
enum class ActivationKind { Linear, Relu, Gelu, GeluTanh, Tanh, Sigmoid, Swish, Softmax, SoftCap };
const char* op_name(OpKind kind);
const char* activation_name(ActivationKind kind);

// A named tensor of a node in the flat parameter vector, in the file's layout (Keras: Dense
// kernel [in, out], Conv2D [kh, kw, in, out], DepthwiseConv2D [kh, kw, in, multiplier]).
struct ParameterSlot {
    std::string name;    // "kernel", "bias", "gamma", "beta"
    std::string tensor;  // the model file's tensor name
    std::vector<std::int64_t> shape;
    std::size_t offset = 0, size = 0;
    // A GGUF llama q or k projection: the file interleaves each of this many heads' rotary
    // halves (llama.cpp's rotation), the graph holds its rows in Hugging Face's order (0: as
    // stored). graph_order() turns the file's values into the graph's.
    std::int64_t rotary_heads = 0;
};
// A slot's values in the file's layout, as the graph holds them.
std::vector<float> graph_order(const ParameterSlot& slot, std::vector<float> values);

struct Window {  // convolution and pooling geometry
    int kh = 1, kw = 1, sh = 1, sw = 1;
    int pad_top = 0, pad_left = 0;  // "same" pads; the bottom/right padding follows from the output size
};

struct Node {
    std::string name;   // unique: the Keras layer's name, or "<layer>/<activation>"
    std::string layer;  // the file's layer this node belongs to
    OpKind kind = OpKind::Activation;
    std::vector<int> inputs;  // node indices; -1 is the network's input
    Shape in, out;            // shape of the first input, and of the output
    ActivationKind activation = ActivationKind::Linear;
    Window window;
    int multiplier = 1;       // DepthwiseConv2D
    bool transposed = false;  // Dense: the kernel is stored [out, in] (nn.Linear), y = x·Wᵀ
    double epsilon = 0;       // LayerNorm, RMSNorm
    double gamma_offset = 0;  // norms: the scale is (offset + γ); Gemma stores γ − 1 and uses 1
    int heads = 0, kv_heads = 0,
        head_dim = 0;  // Attention (causal); one input = fused q|k|v, three = q, k, v
    // Attention: the rotary embedding's inverse frequencies, head_dim/2 of them (empty: no
    // rotary embedding), and the factor its cos and sin are multiplied by (YaRN's attention
    // factor), computed from config.json as transformers does (nn/rope.hpp).
    std::vector<double> rope_inv_freq;
    double rope_factor = 1;
    double attention_scale = 0;     // the scores' scale; 0 is 1/√head_dim
    int sliding_window = 0;         // a query sees the last `sliding_window` tokens, itself included (0: all)
    double softcap = 0;             // Attention scores and the SoftCap activation: cap·tanh(x/cap) (0: none)
    double embedding_scale = 1;     // Embedding: rows are multiplied by it (Gemma's √hidden_size)
    std::int64_t slice_offset = 0;  // Slice
    std::vector<double> shift,
        scale;  // BatchNorm as y = x·scale + shift before γ, β: scale = 1/√(var+ε), shift = −mean·scale
    std::vector<ParameterSlot> parameters;
    const ParameterSlot* slot(const std::string& slot_name) const {
        for (const auto& p : parameters)
            if (p.name == slot_name)
                return &p;
        return nullptr;
    }
};

// The trainable parameters of one file layer (weight and bias, or γ and β) as one block of the
// flat vector: what a per-layer Hessian trace is over.
struct ParameterBlock {
    std::string layer;
    std::size_t offset = 0, size = 0;
};

struct Graph {
    Shape input;
    std::vector<Node> nodes;
    int output = -1;  // the node whose output is the logits
    bool softmax_folded =
        false;  // the file's last softmax is left to the cross-entropy, as PyTorch's takes logits
    bool next_token = false;  // a language model: inputs are token ids, the loss is next-token cross-entropy
    std::int64_t vocabulary = 0;     // for next_token
    std::vector<double> parameters;  // initial values, as read from the file
    // Σ of the slots' sizes; the same as parameters.size() unless the graph was built from the
    // shapes alone (model_graph's with_values = false: a cost estimate reads no weights)
    std::size_t parameter_count = 0;
    std::vector<ParameterBlock> blocks() const;
    const Node& node_of_layer(
        const std::string& layer) const;  // the node holding the layer's parameters; Error when none
};

}  // namespace quantlens::nn

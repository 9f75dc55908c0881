#pragma once
// A layer groups a weight with its bias. QuantLens works in one orientation: output
// channels first ([out, in] for linear, [out, in, kh, kw] for conv); `orientation`
// says how the stored tensor maps to it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quantlens {

enum class LayerKind { Linear, Conv, Embedding, Norm, Other };

enum class Orientation {
    OutFirst,        // stored as [out, in, ...] (PyTorch, GGUF after reversing ne, ONNX Conv)
    InOut,           // stored as [in, out]: Keras Dense, GPT-2 Conv1D, ONNX MatMul/Gemm transB=0
    KerasConv,       // [kh, kw, in, out] -> [out, in, kh, kw]
    KerasDepthwise,  // [kh, kw, in, multiplier] -> [in*multiplier, 1, kh, kw]
};

struct Layer {
    std::string name;
    LayerKind kind = LayerKind::Other;
    std::string weight;               // tensor name
    std::optional<std::string> bias;  // tensor name
    std::vector<std::string> others;  // further tensors (BatchNorm statistics, ...)
    Orientation orientation = Orientation::OutFirst;
    std::string op;  // the graph's op or class ("Dense", "Gemm", ...) when known
};

std::string_view layer_kind_name(LayerKind kind);
LayerKind layer_kind_from_name(std::string_view name);  // Other for names it does not know
std::string_view orientation_name(Orientation orientation);

// The output-channels-first shape of a stored weight shape.
std::vector<std::int64_t> normalised_shape(const std::vector<std::int64_t>& stored, Orientation orientation);

}  // namespace quantlens

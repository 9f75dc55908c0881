#pragma once
// The weight patterns ONNX exporters and quantizers write for weights stored quantized
// (docs/formats.md §13), found in one graph: DequantizeLinear on a constant (per-tensor, per-axis,
// blocked), QLinearConv/QLinearMatMul, ConvInteger/MatMulInteger with the weight scale their
// output is multiplied by, com.microsoft DynamicQuantizeMatMul/MatMulIntegerToFloat and
// MatMulNBits. Internal to the ONNX reader (it needs onnx's generated protobuf types).
#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tensor/layer.hpp"
#include "tensor/stored_quantization.hpp"

namespace quantlens {

struct OnnxQuantizedWeight {
    const onnx::NodeProto* node = nullptr;
    StoredQuantization quantization;
    // DequantizeLinear: the name the graph gives the float weight (its output). Empty for the
    // fused ops, whose node takes the codes itself and makes the layer (kind, orientation, bias).
    std::string output;
    LayerKind kind = LayerKind::Other;
    Orientation orientation = Orientation::OutFirst;
    std::string bias;                                  // the fused op's float bias input, as written
    std::optional<StoredQuantization> quantized_bias;  // QLinearConv's int32 bias
    std::string error;  // recognised but unusable (shapes that disagree): why it is left out
};

// `constant` gives a name as the graph writes it as a tensor (named by its path) when it is a
// constant in scope (an initializer or Constant output, here or in an enclosing graph), nullopt
// when it is computed at run time or cannot be read.
using OnnxConstantLookup = std::function<std::optional<TensorInfo>(const std::string&)>;

std::vector<OnnxQuantizedWeight> find_quantized_weights(const onnx::GraphProto& graph,
                                                        const OnnxConstantLookup& constant,
                                                        const std::string& file);

}  // namespace quantlens

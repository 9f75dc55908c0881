#include "io/onnx_quantized.hpp"

#include <map>

#include "util/error.hpp"

namespace quantlens {

namespace {

std::int64_t int_attribute(const onnx::NodeProto& node, const std::string& name, std::int64_t fallback) {
    for (const auto& attribute : node.attribute())
        if (attribute.name() == name)
            return attribute.i();
    return fallback;
}

std::string input(const onnx::NodeProto& node, int i) {
    return node.input_size() > i ? node.input(i) : std::string();
}

// Bits and signedness follow the codes' type.
void set_code_type(StoredQuantization& q) {
    switch (q.codes.dtype) {
        case DType::I4:
            q.bits = 4;
            q.is_signed = true;
            break;
        case DType::U4:
            q.bits = 4;
            q.is_signed = false;
            break;
        case DType::I8:
            q.bits = 8;
            q.is_signed = true;
            break;
        case DType::U8:
            q.bits = 8;
            q.is_signed = false;
            break;
        case DType::I16:
            q.bits = 16;
            q.is_signed = true;
            break;
        case DType::U16:
            q.bits = 16;
            q.is_signed = false;
            break;
        case DType::I32:
            q.bits = 32;
            q.is_signed = true;
            break;
        default:
            q.bits = 8;
            q.is_signed = true;
            q.is_float8 = true;  // validate() refuses any other type
    }
}

class PatternFinder {
public:
    PatternFinder(const onnx::GraphProto& graph, const OnnxConstantLookup& constant, const std::string& file)
        : graph_(graph), constant_(constant), file_(file) {
        for (const auto& node : graph.node()) {
            for (const auto& name : node.input())
                consumers_[name].push_back(&node);
            for (const auto& name : node.output())
                producer_[name] = &node;
        }
    }

    std::vector<OnnxQuantizedWeight> find() {
        std::vector<OnnxQuantizedWeight> found;
        for (const auto& node : graph_.node()) {
            std::optional<OnnxQuantizedWeight> weight = match(node);
            if (!weight)
                continue;
            weight->node = &node;
            try {
                weight->quantization.validate(file_);
                if (weight->quantized_bias)
                    weight->quantized_bias->validate(file_);
            } catch (const Error& error) {
                weight->error = error.reason() + " (" + error.where() + ")";
            }
            found.push_back(std::move(*weight));
        }
        return found;
    }

private:
    std::optional<OnnxQuantizedWeight> match(const onnx::NodeProto& node) {
        const auto& op = node.op_type();
        const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
        const bool microsoft = node.domain() == "com.microsoft";
        if (op == "DequantizeLinear" && (standard || microsoft))
            return dequantize_linear(node);
        if (op == "QLinearConv" && standard)
            return fused(node, 3, 4, 5, LayerKind::Conv, Orientation::OutFirst, 0);
        if (op == "QLinearMatMul" && standard)
            return fused(node, 3, 4, 5, LayerKind::Linear, Orientation::InOut, 1);
        if ((op == "ConvInteger" || op == "MatMulInteger") && standard)
            return integer_op(node);
        if (op == "DynamicQuantizeMatMul" && microsoft)  // A, B, b_scale, b_zero_point, bias
            return with_bias(fused(node, 1, 2, 3, LayerKind::Linear, Orientation::InOut, 1), node, 4);
        if (op == "MatMulIntegerToFloat" && microsoft)  // A, B, a_scale, b_scale, a_zp, b_zp, bias
            return with_bias(fused(node, 1, 3, 5, LayerKind::Linear, Orientation::InOut, 1), node, 6);
        if (op == "MatMulNBits" && microsoft)
            return matmul_nbits(node);
        return std::nullopt;
    }

    // DequantizeLinear(x, x_scale, x_zero_point; axis = 1, block_size = 0) on a constant x: one
    // scale (per-tensor), one per index along `axis` (per-axis) or, from opset 21, scales of the
    // codes' rank with `axis` divided into blocks of `block_size`.
    std::optional<OnnxQuantizedWeight> dequantize_linear(const onnx::NodeProto& node) {
        auto codes = constant_(input(node, 0));
        auto scales = constant_(input(node, 1));
        if (!codes || !scales || node.output_size() != 1)
            return std::nullopt;  // an activation's, computed at run time
        OnnxQuantizedWeight weight;
        auto& q = weight.quantization;
        q.form = "DequantizeLinear";
        q.codes = *codes;
        q.scales = *scales;
        q.shape = codes->shape;
        if (!optional_part(node, 2, q.zero_points))
            return std::nullopt;
        set_code_type(q);
        const auto rank = static_cast<std::int64_t>(q.shape.size());
        const auto block = int_attribute(node, "block_size", 0);
        auto axis = int_attribute(node, "axis", 1);
        if (scales->elements() == 1 && block == 0) {
            q.axis = -1;
        } else {
            q.axis = static_cast<int>(axis < 0 ? axis + rank : axis);
            q.block_size = block;
        }
        weight.output = node.output(0);
        return weight;
    }

    // A QOperator or fused op that takes the codes itself, with per-tensor or, when the scales
    // have more than one value, per-channel scales along `channel_axis` of the stored weight
    // (QLinearConv: output channels, axis 0; the MatMul forms: columns of [K, N], axis 1).
    std::optional<OnnxQuantizedWeight> fused(const onnx::NodeProto& node, int codes_at, int scales_at,
                                             int zero_at, LayerKind kind, Orientation orientation,
                                             int channel_axis) {
        auto codes = constant_(input(node, codes_at));
        auto scales = constant_(input(node, scales_at));
        if (!codes || !scales)
            return std::nullopt;
        OnnxQuantizedWeight weight;
        auto& q = weight.quantization;
        q.form = node.op_type();
        q.codes = *codes;
        q.scales = *scales;
        q.shape = codes->shape;
        if (!optional_part(node, zero_at, q.zero_points))
            return std::nullopt;
        set_code_type(q);
        q.axis = scales->elements() > 1 ? channel_axis : -1;
        weight.kind = kind;
        weight.orientation = orientation;
        if (node.op_type() == "QLinearConv" && !input(node, 8).empty())
            if (auto bias = constant_(input(node, 8)))
                weight.quantized_bias = qlinear_conv_bias(node, *bias, *scales);
        return weight;
    }

    // QLinearConv's bias: int32 with step input scale × weight scale (per output channel).
    std::optional<StoredQuantization> qlinear_conv_bias(const onnx::NodeProto& node, const TensorInfo& bias,
                                                        const TensorInfo& weight_scales) {
        auto input_scale = constant_(input(node, 1));
        if (!input_scale)
            return std::nullopt;
        StoredQuantization q;
        q.form = "QLinearConv";
        q.codes = bias;
        q.scales = weight_scales;
        q.scale_factor = *input_scale;
        q.shape = bias.shape;
        set_code_type(q);
        q.axis = weight_scales.elements() > 1 ? 0 : -1;
        return q;
    }

    std::optional<OnnxQuantizedWeight> with_bias(std::optional<OnnxQuantizedWeight> weight,
                                                 const onnx::NodeProto& node, int bias_at) {
        if (weight)
            weight->bias = input(node, bias_at);
        return weight;
    }

    // ConvInteger(x, w, x_zero_point, w_zero_point) and MatMulInteger(a, b, a_zero_point,
    // b_zero_point) carry no scale: onnxruntime's dynamic quantization multiplies their result,
    // cast to float, by input scale × weight scale (Mul of the two), the bias added before.
    std::optional<OnnxQuantizedWeight> integer_op(const onnx::NodeProto& node) {
        const bool conv = node.op_type() == "ConvInteger";
        auto codes = constant_(input(node, 1));
        if (!codes || node.output_size() != 1)
            return std::nullopt;
        auto scales = weight_scale_after(node.output(0));
        if (!scales)
            return std::nullopt;  // no scale to be found: not a weight we can dequantize
        OnnxQuantizedWeight weight;
        auto& q = weight.quantization;
        q.form = node.op_type();
        q.codes = *codes;
        q.scales = *scales;
        q.shape = codes->shape;
        if (!optional_part(node, 3, q.zero_points))
            return std::nullopt;
        set_code_type(q);
        q.axis = scales->elements() > 1 ? (conv ? 0 : 1) : -1;
        weight.kind = conv ? LayerKind::Conv : LayerKind::Linear;
        weight.orientation = conv ? Orientation::OutFirst : Orientation::InOut;
        return weight;
    }

    // Follows `value` through Add, Cast and Reshape (each its only consumer) to a Mul, whose other
    // operand is the weight scale or the product of the two scales.
    std::optional<TensorInfo> weight_scale_after(std::string value) {
        for (int step = 0; step < 4; ++step) {
            const auto found = consumers_.find(value);
            if (found == consumers_.end() || found->second.size() != 1)
                return std::nullopt;
            const auto& next = *found->second.front();
            if (next.output_size() != 1)
                return std::nullopt;
            if (next.op_type() == "Mul") {
                const std::string other = input(next, 0) == value ? input(next, 1) : input(next, 0);
                if (auto scale = float_constant(other))
                    return scale;
                const auto producer = producer_.find(other);
                if (producer == producer_.end() || producer->second->op_type() != "Mul")
                    return std::nullopt;
                for (const auto& operand : producer->second->input())
                    if (auto scale = float_constant(operand))
                        return scale;
                return std::nullopt;
            }
            if (next.op_type() != "Add" && next.op_type() != "Cast" && next.op_type() != "Reshape")
                return std::nullopt;
            value = next.output(0);
        }
        return std::nullopt;
    }

    // An optional input: absent, or a constant (false when it is computed at run time, which
    // leaves the weight's values unknowable here).
    bool optional_part(const onnx::NodeProto& node, int at, std::optional<TensorInfo>& part) {
        if (input(node, at).empty())
            return true;
        part = constant_(input(node, at));
        return part.has_value();
    }

    std::optional<TensorInfo> float_constant(const std::string& name) {
        auto info = constant_(name);
        if (info && (info->dtype == DType::F32 || info->dtype == DType::F16 || info->dtype == DType::BF16))
            return info;
        return std::nullopt;
    }

    // com.microsoft MatMulNBits(A, B, scales, zero_points, g_idx, bias; K, N, bits = 4,
    // block_size): B packed [N, ⌈K/block_size⌉, block_size·bits/8] uint8, one scale per block.
    std::optional<OnnxQuantizedWeight> matmul_nbits(const onnx::NodeProto& node) {
        auto codes = constant_(input(node, 1));
        auto scales = constant_(input(node, 2));
        if (!codes || !scales)
            return std::nullopt;
        OnnxQuantizedWeight weight;
        auto& q = weight.quantization;
        q.form = "MatMulNBits";
        q.codes = *codes;
        q.scales = *scales;
        q.shape = {int_attribute(node, "N", 0), int_attribute(node, "K", 0)};
        if (!optional_part(node, 3, q.zero_points))
            return std::nullopt;
        if (!optional_part(node, 4, q.group_index))
            return std::nullopt;
        q.bits = static_cast<int>(int_attribute(node, "bits", 4));
        q.is_signed = false;
        q.packed_rows = true;
        q.axis = 1;
        q.block_size = int_attribute(node, "block_size", 0);
        weight.kind = LayerKind::Linear;
        weight.orientation = Orientation::OutFirst;
        weight.bias = input(node, 5);
        return weight;
    }

    const onnx::GraphProto& graph_;
    const OnnxConstantLookup& constant_;
    const std::string& file_;
    std::map<std::string, std::vector<const onnx::NodeProto*>> consumers_;
    std::map<std::string, const onnx::NodeProto*> producer_;
};

}  // namespace

std::vector<OnnxQuantizedWeight> find_quantized_weights(const onnx::GraphProto& graph,
                                                        const OnnxConstantLookup& constant,
                                                        const std::string& file) {
    return PatternFinder(graph, constant, file).find();
}

}  // namespace quantlens

#pragma once
// A weight a file stores already quantized as tensors of its own: integer (or float8) codes,
// scales and zero points that a graph node or a checkpoint convention combines into the float
// weight. ONNX holds them behind DequantizeLinear, QLinearConv/QLinearMatMul,
// ConvInteger/MatMulInteger and onnxruntime's MatMulNBits (docs/formats.md §13). A reader that
// recognises one lists a single tensor for it, float32 of the weight's shape, whose values are
// the dequantized weight; this says what it is made of and how to get the values.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace quantlens {

struct StoredQuantization {
    std::string form;  // the op that dequantizes: "DequantizeLinear", "MatMulNBits", ...
    TensorInfo codes, scales;
    std::optional<TensorInfo> zero_points;  // absent: zero (MatMulNBits: 2^(bits−1))
    // MatMulNBits' g_idx: the block of each input column, int32 [K], for act-order checkpoints.
    std::optional<TensorInfo> group_index;
    // A second scale every scale is multiplied by: QLinearConv's input scale for its int32 bias,
    // whose step is input scale × weight scale.
    std::optional<TensorInfo> scale_factor;
    std::vector<std::int64_t> shape;  // the weight's, as stored (the dequantized tensor's shape)
    int bits = 8;
    bool is_signed = true;
    bool is_float8 = false;  // float8 codes: value = float(code) × scale
    // MatMulNBits' packing: codes [N, blocks, block_size·bits/8] bytes, the first value of a byte
    // in its low bits; packed zero points per row [N, ⌈blocks·bits/8⌉]. The weight is [N, K].
    bool packed_rows = false;
    int axis = -1;                // along which scales vary, of `shape`; −1: one scale
    std::int64_t block_size = 0;  // values per scale along `axis`; 0: the whole axis

    std::uint64_t stored_bytes() const;  // every part, as the file holds them
    // "per-tensor", "per-channel (axis 0)", "blocks of 32 (axis 1)".
    std::string granularity() const;
    // For a table: "int8 per-channel", "uint4 blocks of 32", "float8 e4m3 per-tensor".
    std::string type_name() const;
    // The parts, then why they fit: Error naming `file` and the part when shapes or types disagree.
    void validate(const std::string& file) const;
};

// The dequantized weight, float32 in `shape`'s order, from each part's stored bytes (empty spans
// for absent parts), as onnxruntime computes it: (code − zero point) in integers, converted to
// float32 and multiplied by the scale in float32; when the scales are float16 or bfloat16 (the
// output type follows them) each value is then rounded to that type. Error naming `file` when a
// g_idx entry points outside its row.
std::vector<float> dequantize_stored(const std::string& file, const StoredQuantization& quantization,
                                     std::span<const std::byte> codes, std::span<const std::byte> scales,
                                     std::span<const std::byte> zero_points,
                                     std::span<const std::byte> group_index,
                                     std::span<const std::byte> scale_factor);

}  // namespace quantlens

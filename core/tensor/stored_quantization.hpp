#pragma once
// A weight a file stores already quantized as tensors of its own: integer (or float8) codes,
// scales and zero points that a graph node or a checkpoint convention combines into the float
// weight. ONNX holds them behind DequantizeLinear, QLinearConv/QLinearMatMul,
// ConvInteger/MatMulInteger and onnxruntime's MatMulNBits (docs/formats.md §13); safetensors
// checkpoints by the conventions of GPTQ, AWQ, MLX, bitsandbytes, FP8 releases and
// compressed-tensors (io/checkpoint_quantized.hpp, docs/formats.md §15). A reader that
// recognises one lists a single tensor for it, float32 of the weight's shape, whose values are
// the dequantized weight; this says what it is made of and how to get the values.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace quantlens {

// How a checkpoint convention packs its codes (docs/formats.md §15); None: the ONNX forms, whose
// codes are one value per element (or MatMulNBits' packed_rows).
enum class CheckpointPacking {
    None,
    GptqColumns,       // qweight [K·b/32, N] a bit stream down each column; qzeros a stream per row
    AwqGemm,           // qweight [K, N/8] and qzeros [G, N/8], nibbles in the order 0 2 4 6 1 3 5 7
    AwqGemv,           // qweight [N, K/8], qzeros [N, W] streams along the row, scales [N, W·8]
    MlxRows,           // weight uint32 [N, K·b/32] a stream per row; w = scale·q + bias (zero_points)
    CompressedPacked,  // weight_packed int32 [N, ⌈K·b/32⌉], 32/b per word, code = value − 2^(b−1)
    Bitsandbytes4,     // two codes a byte, high nibble first, into tables[0] times absmax per block
    Bitsandbytes8,     // int8 [N, K] · SCB[N] / 127
    Float8Blocks,      // float8 [N, K] · scale[⌈N/block_rows⌉, ⌈K/block_size⌉]
};

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

    CheckpointPacking packing = CheckpointPacking::None;
    int zero_offset = 0;  // added to each stored zero point (GPTQ's format v1 stores zero − 1)
    // bitsandbytes: the code values (quant_map), then for nested absmax nested_absmax and
    // nested_quant_map.
    std::vector<TensorInfo> tables;
    float nested_offset = 0;             // bitsandbytes: added to each nested-dequantized absmax
    std::int64_t nested_block_size = 0;  // bitsandbytes: absmax values per nested_absmax
    std::int64_t block_rows = 0;         // Float8Blocks: rows per scale
    DType output_type = DType::F32;      // checkpoint forms: the values are rounded to this type
    std::string code_name;               // checkpoint forms: "nf4", "fp4" (else int/uint/float8)

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

// A checkpoint form's dequantized weight, float32 [N, K], from its parts' bytes (`tables` in
// StoredQuantization::tables' order), as the tool that wrote it dequantizes (docs/formats.md §15).
// Error naming `file` and the part when a g_idx entry is outside the groups.
std::vector<float> dequantize_checkpoint(const std::string& file, const StoredQuantization& quantization,
                                         std::span<const std::byte> codes, std::span<const std::byte> scales,
                                         std::span<const std::byte> zero_points,
                                         std::span<const std::byte> group_index,
                                         const std::vector<std::span<const std::byte>>& tables);
// The same into `out` (N·K values), so a loop over layers can reuse one buffer.
void dequantize_checkpoint_into(const std::string& file, const StoredQuantization& quantization,
                                std::span<const std::byte> codes, std::span<const std::byte> scales,
                                std::span<const std::byte> zero_points,
                                std::span<const std::byte> group_index,
                                const std::vector<std::span<const std::byte>>& tables, std::span<float> out);

}  // namespace quantlens

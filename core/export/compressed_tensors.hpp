#pragma once
// compressed-tensors' pack-quantized checkpoints (vLLM, Hugging Face transformers; docs/formats.md
// §8, checked against compressed_tensors/compressors/quantized_compressors/pack_quantized.py):
// per quantized nn.Linear `X`
//   X.weight_packed      I32 [out, ceil(in / (32/b))]: the signed code q plus 2^(b−1), value k of
//                        a word at bits k·b … k·b+b−1, rows padded with zeros
//   X.weight_scale       [out, groups] (channel: [out, 1]; tensor: [1]), in the spec's scale dtype
//   X.weight_zero_point  asymmetric only: I32 [ceil(out / (32/b)), groups], signed zero points
//                        packed the same way along the output dimension (tensor: I8 [1])
//   X.weight_shape       I64 [2] = [out, in]
// and config.json's quantization_config with one config group per distinct scheme, its targets
// the exact module names, and the Linear layers left in full precision under "ignore".
// Dequantization is (q − zero_point) · scale, which is bit for bit what the preview computes.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/export_common.hpp"

namespace quantlens {

struct PackedScheme {
    int num_bits = 4;
    bool symmetric = true;
    std::string strategy;  // "tensor", "channel" or "group"
    std::int64_t group_size = 0;
    DType scale_dtype = DType::F32;
    bool operator==(const PackedScheme&) const = default;
};

// The scheme a spec is in this format, or why it is not one (int4/int8 with tensor, channel or
// group scales stored as f32, f16 or bf16; round-to-nearest or stochastic rounding).
std::optional<PackedScheme> packed_scheme_of(const QuantSpec& spec, std::string& why_not);
nlohmann::ordered_json scheme_weights_json(const PackedScheme& scheme);  // a config group's "weights"

// The words for rows of `codes` (signed values in [−2^(b−1), 2^(b−1)−1]); `packed_rows` = false
// packs down the columns instead (zero points are packed along the output dimension).
std::vector<std::int32_t> pack_int32(const std::vector<std::int32_t>& signed_values, std::int64_t rows,
                                     std::int64_t cols, int bits, bool along_rows = true);
// The same along rows, from codes stored with `code_offset` added (the quantizer's unsigned
// asymmetric codes), into `words` (reused); rows run in parallel.
void pack_rows_int32(std::span<const std::int32_t> codes, std::int32_t code_offset, std::int64_t rows,
                     std::int64_t cols, int bits, std::vector<std::int32_t>& words);
std::vector<std::int32_t> unpack_int32(std::span<const std::int32_t> words, std::int64_t rows,
                                       std::int64_t cols, int bits, bool along_rows = true);

// quantization_config for these assignments (every plan layer must have a scheme or a cast
// spec, which means "keep in full precision"). Error naming the layers that fail the checks.
nlohmann::ordered_json compressed_tensors_config(const Model& model,
                                                 const std::vector<LayerAssignment>& assignments,
                                                 const std::string& out_path);

// Writes a Hugging Face folder (config.json with quantization_config, the other files of the
// source folder, the packed safetensors shards and their index) atomically.
ExportSummary export_packed_safetensors(const Model& model, const std::vector<LayerAssignment>& assignments,
                                        const std::string& out_folder, const Progress& progress = {},
                                        const CancelToken* cancel = nullptr);

// Reads module `module` of a pack-quantized model back to float32 [out, in] as a compressed-
// tensors loader does, with the scheme from `weights` (a config group's "weights").
std::vector<float> dequantize_packed_module(const ModelFile& file, const std::string& module,
                                            const nlohmann::json& weights);

}  // namespace quantlens

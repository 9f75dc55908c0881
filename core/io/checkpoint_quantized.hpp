#pragma once
// Quantized weights in safetensors checkpoints, by the conventions of the tools that publish them
// (docs/formats.md §15): GPTQ (AutoGPTQ / GPTQModel: qweight, qzeros, scales, g_idx; formats v1
// and v2), AWQ (GEMM and GEMV layouts), MLX (uint32 weight, scales, biases), bitsandbytes (4-bit
// NF4/FP4 with absmax, quant_map and quant_state, nested or not; 8-bit with SCB), FP8 weights with
// weight_scale or block-wise weight_scale_inv, and compressed-tensors (pack-quantized,
// int-quantized, float-quantized, naive-quantized). Each packed weight is found from the tensor
// names beside it, its dtypes and config.json, and becomes one float32 tensor `<module>.weight`
// whose TensorInfo::quantization says what it is made of; its parts are no longer listed.
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/model_file.hpp"

namespace quantlens {

struct CheckpointWeights {
    std::vector<TensorInfo> weights;           // one per packed weight, with its quantization
    std::set<std::string> consumed;            // the part tensors folded into them (and into left_out)
    std::vector<ModelFile::LeftOut> left_out;  // recognised but unusable: the reason names the part
};

// `read` gives a listed tensor's bytes (for the small parts read at open: bitsandbytes' quant
// state, compressed-tensors' weight_shape). `file` names the file in errors.
CheckpointWeights find_checkpoint_weights(const std::vector<TensorInfo>& tensors,
                                          const nlohmann::json& config,
                                          const std::function<TensorBytes(const TensorInfo&)>& read,
                                          const std::string& file);

}  // namespace quantlens

#pragma once
// One plan in the dialects other tools read, so a plan made here drives them (docs/plan.md):
//   - GPTQModel's quantize_config.json: base bits/group_size/sym/desc_act from the plan's most
//     common scheme, and `dynamic` per-module overrides: "+:<regex>" with the fields that
//     differ, "-:<regex>" for Linear modules kept in full precision. Keys are Python regular
//     expressions matched with re.match against module names, first match wins (GPTQModel's
//     QuantizeConfig.dynamic, as vLLM's gptq_utils reads it); QuantLens writes one anchored,
//     escaped pattern per module.
//   - AIMET's encodings (the 0.6.1 layout its QuantizationSimModel exports and
//     load_encodings_to_sim reads): "param_encodings" maps each weight tensor to one entry per
//     output channel (one for per-tensor) {bitwidth, dtype, is_symmetric, min, max, offset,
//     scale}, with x = (q + offset)·scale for q in 0 … 2^b−1 — computed by quantizing each
//     layer exactly as the preview does.
//   - compressed-tensors' quantization_config: compressed_tensors_config() in compressed_tensors.hpp.
//   - llama-quantize's --tensor-type-file: llama_quantize_types.hpp.
// Each checks every layer before anything is written and lists those that do not translate.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "export/export_common.hpp"

namespace quantlens {

nlohmann::ordered_json gptqmodel_quantize_config(const Model& model,
                                                 const std::vector<LayerAssignment>& assignments,
                                                 const std::string& out_path);

// Error when GPTQModel cannot configure this model (not a Hugging Face safetensors model).
void check_gptqmodel_source(const Model& model, const std::string& out_path);
// Refuses (ExportRefused) the layers AIMET's encodings cannot describe; aimet_encodings checks first.
void check_aimet_encodings(const std::vector<LayerAssignment>& assignments, const std::string& out_path);
nlohmann::ordered_json aimet_encodings(const Model& model, const std::vector<LayerAssignment>& assignments,
                                       const std::string& out_path, const Progress& progress = {},
                                       const CancelToken* cancel = nullptr);

// A Python `re` pattern matching exactly `name` (re.escape, then "$"; re.match anchors the start).
std::string python_exact_pattern(const std::string& name);

}  // namespace quantlens

#pragma once
// A Hugging Face llama folder (config.json + safetensors) written as a GGUF that llama.cpp's
// `llama` architecture loads, with ggml types per tensor from a plan: the architecture keys
// from config.json (docs/formats.md §6), llama.cpp's tensor names, and the row permutation its
// converter (convert_hf_to_gguf.py, LlamaModel.permute) applies to q_proj and k_proj so that
// rotary embeddings pair the dimensions llama.cpp's kernel pairs. Norms stay F32 as the
// converter keeps them; other tensors keep their float dtype unless the plan says otherwise.
//
// Tokenizers are not converted: the file says tokenizer.ggml.model = "no_vocab" (llama.cpp
// then loads the weights and runs on token ids, with no text tokenization) and the export's
// warnings say so, rather than writing a vocabulary llama.cpp would misread.
#include <span>
#include <string>
#include <vector>

#include "export/export_common.hpp"
#include "model/llama_names.hpp"  // llama_cpp_tensor_name, llama_permute_rows

namespace quantlens {

bool is_hf_llama(const Model& model);
// Error when the folder holds what this converter does not convert (rope scaling).
void check_hf_llama_source(const Model& model);

ExportSummary export_hf_llama_gguf(const Model& model, const std::vector<LayerAssignment>& assignments,
                                   const std::string& out_path, const Progress& progress = {},
                                   const CancelToken* cancel = nullptr);

}  // namespace quantlens

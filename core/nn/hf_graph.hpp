#pragma once
// The engine's Graph of a decoder-only transformer in Hugging Face layout (config.json and
// safetensors), for sequences of a given length:
// - gpt2: learned positions, LayerNorm, fused c_attn (Conv1D [in, out] weights), gelu_new,
//   the head tied to the token embedding (or lm_head.weight when untied);
// - llama and the families that share its shape (mistral, qwen2, qwen3, gemma2, gemma3,
//   gemma3_text, phi3; nn/hf_decoder.cpp): RMSNorm, rotary embeddings as Hugging Face computes
//   them (nn/rope.hpp), grouped-query attention, gated MLPs, nn.Linear [out, in] weights, tied
//   or untied head.
// The loss is next-token cross-entropy. Configs outside this are refused by field, naming what
// is supported; weight-only analysis of such models is unaffected.
#include <cstdint>

#include "model/model.hpp"
#include "nn/graph.hpp"

namespace quantlens::nn {

// with_values = false builds the shapes alone (no weight is read; parameters stays empty).
Graph hf_graph(const Model& model, std::int64_t tokens, bool with_values = true);

// Whichever builder fits the file: a Keras model_config, or a Hugging Face config.json
// (`tokens`: the sequence length the calibration data has; ignored by Keras models).
Graph model_graph(const Model& model, std::int64_t tokens, bool with_values = true);
bool is_language_model(const Model& model);  // a config.json with a model_type the engine builds
// Throws, naming config.json's model_type, when the model has a config.json whose model_type
// the engine does not build: said before any calibration file is read for it.
void require_engine_model(const Model& model);

}  // namespace quantlens::nn

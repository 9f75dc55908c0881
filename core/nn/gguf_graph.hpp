#pragma once
// The engine's Graph of a GGUF language model, run as llama.cpp runs it: for the architectures
// llama (and Mistral, which llama.cpp converts to it), qwen2, qwen3, gemma2, gemma3 and phi3, the
// hyperparameters come from the file's metadata and the weights from its tensors (any ggml type
// QuantLens decodes), under llama.cpp's names. What llama.cpp's converter changed is undone
// or followed (docs/sensitivity.md, "GGUF models"): the llama architecture's q/k rows are put
// back in Hugging Face's order, Gemma's norm weights already hold the 1 of (1 + γ), Llama 3.1's
// rope_freqs divide the frequencies, and sliding windows, the Gemma attention scale and the
// soft caps are llama.cpp's.
#include <cstdint>
#include <string>

#include "model/model.hpp"
#include "nn/graph.hpp"

namespace quantlens::nn {

bool is_gguf_language_model(const Model& model);  // a GGUF whose architecture the engine builds
// Throws, naming general.architecture and the supported list, for another architecture.
void require_gguf_engine_model(const Model& model);
Graph gguf_graph(const Model& model, std::int64_t tokens, bool with_values = true);

}  // namespace quantlens::nn

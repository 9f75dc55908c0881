#pragma once
// llama.cpp's tensor names for Hugging Face llama-family checkpoints (what its converter,
// convert_hf_to_gguf.py, writes): the names GGUF files and llama-imatrix files use.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace quantlens {

// llama.cpp's name for a Hugging Face llama tensor ("" for tensors it drops, e.g. rotary
// inv_freq); Error naming `path` for names it does not know.
std::string llama_cpp_tensor_name(const std::string& hf_name, const std::string& path);

// The same without the error: nullopt for names it does not know.
std::optional<std::string> find_llama_cpp_tensor_name(const std::string& hf_name);

// llama-quantize's token embedding and output matrix, by llama.cpp name (src/llama-quant.cpp,
// tensor_name_match_token_embd and tensor_name_match_output_weight): its type rules and its
// importance-matrix requirement treat both apart.
inline bool is_llama_token_embedding(const std::string& name) {
    return name == "token_embd.weight" || name == "per_layer_token_embd.weight";
}
inline bool is_llama_output(const std::string& name) {
    return name == "output.weight";
}

// Rows of a [heads·head_dim, cols] projection in llama.cpp's order: within each head, the two
// rotary halves interleaved (row h·D + 2i + j comes from row h·D + j·D/2 + i).
std::vector<float> llama_permute_rows(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                      std::int64_t heads);
// Its inverse: a GGUF's q or k rows back in Hugging Face's order.
std::vector<float> llama_unpermute_rows(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                        std::int64_t heads);

}  // namespace quantlens

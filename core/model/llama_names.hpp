#pragma once
// llama.cpp's tensor names for Hugging Face llama-family checkpoints (what its converter,
// convert_hf_to_gguf.py, writes): the names GGUF files and llama-imatrix files use.
#include <optional>
#include <string>

namespace quantlens {

// llama.cpp's name for a Hugging Face llama tensor ("" for tensors it drops, e.g. rotary
// inv_freq); Error naming `path` for names it does not know.
std::string llama_cpp_tensor_name(const std::string& hf_name, const std::string& path);

// The same without the error: nullopt for names it does not know.
std::optional<std::string> find_llama_cpp_tensor_name(const std::string& hf_name);

}  // namespace quantlens

#pragma once
// A plan in llama.cpp's dialect: the per-tensor type file `llama-quantize --tensor-type-file`
// reads. Its syntax (llama.cpp tools/quantize): whitespace-separated `PATTERN=TYPE` entries, no
// comments; the pattern is a regular expression matched against the tensor name (lowercased),
// the first matching entry wins, and TYPE is a ggml type name (case-insensitive). QuantLens
// writes one anchored, escaped pattern per weight tensor, so each entry names one tensor.
//
// Only a GGUF source has llama.cpp's tensor names, and only the ggml types (gguf_export's
// ggml_type_names_text(), with no other options) mean the same thing to llama-quantize; the
// checks run before anything is written and list every layer that fails, with what to change.
#include <string>
#include <vector>

#include "alloc/plan.hpp"

namespace quantlens {

std::string llama_quantize_tensor_types(const Model& model, const std::vector<LayerAssignment>& assignments);

// A name as a regular expression matching only itself: special characters escaped, anchored.
std::string exact_pattern(const std::string& name);

}  // namespace quantlens

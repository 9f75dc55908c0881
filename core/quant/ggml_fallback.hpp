#pragma once
// llama-quantize's fallback for a tensor whose rows its type's blocks do not divide (llama.cpp
// src/llama-quant.cpp, tensor_type_fallback; docs/quant-spec.md "ggml types"): the 256-value
// types step down to a 32-value type of similar precision (IQ4_XS and the grid i-quants →
// IQ4_NL; Q2_K, Q3_K, TQ1_0, TQ2_0 → Q4_0; Q4_K → Q5_0; Q5_K → Q5_1; Q6_K → Q8_0), and a type whose blocks
// still do not divide the rows becomes F16. QuantLens's allocation applies the same rule, so a plan says what
// llama-quantize would write.
#include <cstdint>
#include <vector>

#include "quant/quant_spec.hpp"

namespace quantlens {

// The spec llama-quantize writes for rows of `row_length` values when asked for `spec`: `spec`
// itself when its blocks divide the rows or it is not a bare ggml type.
QuantSpec ggml_fallback(const QuantSpec& spec, std::int64_t row_length);

// Every spec a fallback from `spec` can reach (empty when it has none), so an analysis can
// measure them beforehand.
std::vector<QuantSpec> ggml_fallback_chain(const QuantSpec& spec);

}  // namespace quantlens

#pragma once
// llama.cpp's grid i-quant quantizers (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S), byte
// for byte as ggml_quantize_chunk writes them (ggml-quants.c quantize_row_iq*_impl; docs/quant-
// spec.md "grid i-quants"). Each 256-value super-block is quantized on its own: groups of 8 (or
// 4) folded to magnitudes with their signs kept apart, a trial-scale search whose rounded levels
// are snapped to the codebook (quant/ggml_grid_search), and one half-float scale with 3- or
// 4-bit sub-block scales.
#include <cstdint>
#include <vector>

#include "tensor/dtype.hpp"

namespace quantlens::ggml {

bool is_grid_iquant(DType type);

// IQ2_XXS, IQ2_XS and IQ1_S, which ggml refuses to quantize without importance weights
// (ggml_quantize_requires_imatrix).
bool requires_importance(DType type);

// One super-block of 256 values `x` into `out` (the type's block size). `importance` holds the
// 256 importance weights of these columns, or is null (types that require it throw
// std::invalid_argument). Values must be finite; a group ggml's search cannot place (which
// ggml aborts on) throws std::domain_error.
void quantize_grid_superblock(DType type, const float* x, const float* importance, std::uint8_t* out);

// The values the first block's first sub-block can take (its scale times each codebook byte,
// both signs; IQ1's shifted levels), as the decoder forms them.
std::vector<float> grid_first_levels(DType type, const std::uint8_t* block);

}  // namespace quantlens::ggml

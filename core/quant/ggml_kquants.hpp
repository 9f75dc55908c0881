#pragma once
// llama.cpp's super-block quantizers and its importance-weighted quantizers, byte for byte as
// ggml_quantize_chunk (what llama-quantize calls) writes them. quant/ggml_quantizer is the
// entry point; this is its second half.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tensor/dtype.hpp"

namespace quantlens::ggml {

// Q2_K … Q6_K, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0 and the grid i-quants (quant/ggml_iquants).
bool quantizes_superblocks(DType type);

// Quantizes `values` floats (whole rows of n_per_row, a multiple of the type's block) into
// `out`. `importance` holds n_per_row per-column weights (llama.cpp's imatrix entry for the
// tensor) or is null; the legacy types Q4_0 … Q5_1 come here only with it.
// `first_row` is the row x starts at, for messages.
void quantize_rows_weighted(DType type, const float* x, std::size_t values, std::size_t n_per_row,
                            const float* importance, std::uint8_t* out, std::size_t first_row = 0);

// While one lives on a thread, the quantizers there use the plain one-group-at-a-time
// transcription of ggml's searches instead of their AVX2 lanes (same bytes; for the benchmark's
// baseline and the tests that compare the two).
class PlainSearchScope {
public:
    PlainSearchScope();
    ~PlainSearchScope();
    PlainSearchScope(const PlainSearchScope&) = delete;
    PlainSearchScope& operator=(const PlainSearchScope&) = delete;

private:
    bool previous_;
};

// A block's main scale d as a float (every ggml type QuantLens writes has one half d).
float block_scale(DType type, const std::uint8_t* block);

// The values the codes of the first block's first group can take, as the decoder forms them
// (for drawing a format's levels over a histogram).
std::vector<float> first_group_levels(DType type, const std::uint8_t* block);

}  // namespace quantlens::ggml

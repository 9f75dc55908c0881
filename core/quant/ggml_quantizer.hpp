#pragma once
// llama.cpp's reference quantizers (ggml-quants.c quantize_row_*_ref; docs/formats.md §5),
// reproduced so the bytes are identical: float arithmetic as the C code does it, C roundf
// (half away from zero) for Q8_0 and truncating int8 casts for the 4- and 5-bit types.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tensor/dtype.hpp"

namespace quantlens {

// x.size() must be a multiple of the type's block (32, or 256 for the super-block types); out
// holds x.size()/block blocks of the type's size.
void quantize_ggml_row(DType type, std::span<const float> x, std::span<std::uint8_t> out);

// Rows of n_per_row values as ggml_quantize_chunk (llama-quantize) writes them: `importance`
// empty, or n_per_row per-column weights (the tensor's llama.cpp importance matrix), which the
// types that can use them (all but Q8_0, TQ1_0, TQ2_0) quantize with, as llama-quantize --imatrix.
void quantize_ggml_rows(DType type, std::span<const float> x, std::size_t n_per_row,
                        std::span<const float> importance, std::span<std::uint8_t> out);

// The production path on the calling thread only (for per-core benchmarks).
void quantize_ggml_row_single_thread(DType type, std::span<const float> x, std::span<std::uint8_t> out);

// Plain one-block-at-a-time versions (no importance): the reference the fast paths are tested against.
void quantize_ggml_row_reference(DType type, std::span<const float> x, std::span<std::uint8_t> out);

}  // namespace quantlens

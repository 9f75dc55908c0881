#pragma once
// llama.cpp's reference quantizers (ggml-quants.c quantize_row_*_ref; docs/formats.md §5),
// reproduced so the bytes are identical: float arithmetic as the C code does it, C roundf
// (half away from zero) for Q8_0 and truncating int8 casts for the 4- and 5-bit types.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tensor/dtype.hpp"

namespace quantlens {

// x.size() must be a multiple of 32; out holds x.size()/32 blocks of the type's size.
void quantize_ggml_row(DType type, std::span<const float> x, std::span<std::uint8_t> out);

// The production path on the calling thread only (for per-core benchmarks).
void quantize_ggml_row_single_thread(DType type, std::span<const float> x, std::span<std::uint8_t> out);

// Plain one-block-at-a-time versions: the reference the fast paths are tested against.
void quantize_ggml_row_reference(DType type, std::span<const float> x, std::span<std::uint8_t> out);

}  // namespace quantlens

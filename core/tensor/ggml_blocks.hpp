#pragma once
// Dequantization of llama.cpp's ggml block formats (docs/formats.md §5; layouts from
// ggml-common.h). Quantization lives in core/quant; this is the read side.
#include <cstddef>
#include <span>

#include "tensor/dtype.hpp"

namespace quantlens {

// Dequantizes out.size() values (a whole number of blocks) from `blocks`, exactly as ggml's
// dequantize_row_* does; every ggml block type QuantLens knows is decoded.
void dequantize_blocks(DType type, std::span<const std::byte> blocks, std::span<float> out);

}  // namespace quantlens

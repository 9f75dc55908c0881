#pragma once
// The QuantSpec that describes a weight a file stores quantized (tensor/stored_quantization.hpp),
// when one does: int8 per output channel with no zero point is int8:channel:sym, uint4 in blocks
// of 32 along the input axis with zero points is int4:g32:asym, MatMulNBits with its implied
// zero point 2^(b−1) is int<b>:g<block>:sym:full (codes −2^(b−1) … 2^(b−1)−1). Quantizing the
// dequantized weights with it tells whether QuantLens's quantizer reproduces the file's (its
// error is then zero), and sets the stored format beside any other spec in the comparisons.
#include <optional>
#include <string>

#include "quant/quant_spec.hpp"
#include "tensor/layer.hpp"
#include "tensor/stored_quantization.hpp"

namespace quantlens {

// nullopt with `why` set when no spec describes it (a scale axis that is not the output channels,
// 16- and 32-bit codes, float8 in blocks).
std::optional<QuantSpec> spec_of_stored(const StoredQuantization& stored, Orientation orientation,
                                        std::string* why = nullptr);

}  // namespace quantlens

#pragma once
// Transforms previewed before quantization (REFERENCE.md §15, §14):
// - randomized Hadamard rotation of the input dimension: each row w becomes R·w with
//   R = H·diag(±1) orthogonal; W' = W·Rᵀ leaves the layer's function unchanged when the
//   inputs are rotated too. H is block-diagonal of normalised Sylvester blocks H_{2^k} where
//   2^k is the largest power of two dividing the row length, when that is at least 16;
//   otherwise R is a seeded random orthogonal matrix (QR of a Gaussian matrix).
// - SmoothQuant/AWQ-style smoothing: s_j = max|X_j|^α / max|W_:,j|^(1−α), W' = W·diag(s).
#include <cstdint>
#include <span>
#include <vector>

#include "quant/quantizer.hpp"

namespace quantlens {

class InputRotation {
public:
    InputRotation(std::int64_t dimension, std::uint64_t seed);
    void rotate(std::span<float> row) const;         // row <- R·row
    void rotate_back(std::span<float> row) const;    // row <- Rᵀ·row
    std::int64_t block_size() const { return block_; }  // 0 when a dense random orthogonal is used

private:
    std::int64_t dimension_, block_ = 0;
    std::vector<float> signs_;
    std::vector<float> dense_;  // row-major dimension × dimension, only without Hadamard blocks
};

std::vector<float> smoothing_scales(const WeightMatrix& w, const CalibrationInputs& inputs, double alpha);

}  // namespace quantlens

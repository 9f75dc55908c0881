#pragma once
// Randomized Hadamard rotation of a weight row's input dimension: each row w becomes R·w
// with R = H·diag(±1) orthogonal, so W' = W·Rᵀ leaves a layer's function unchanged when its
// inputs are rotated too (QuaRot, SpinQuant; docs/formats.md "Rotations"). H is
// block-diagonal of normalised Sylvester blocks H_{2^k}, where 2^k is the largest power of
// two dividing the row length, when that is at least 16; otherwise R is a seeded random
// orthogonal matrix (QR of a Gaussian matrix). Used by the quantizers (rot=) and by QSUR
// after rotation, so it lives below both.
#include <cstdint>
#include <span>
#include <vector>

namespace quantlens {

class InputRotation {
public:
    InputRotation(std::int64_t dimension, std::uint64_t seed);
    void rotate(std::span<float> row) const;            // row <- R·row
    void rotate_back(std::span<float> row) const;       // row <- Rᵀ·row
    std::int64_t block_size() const { return block_; }  // 0 when a dense random orthogonal is used

private:
    std::int64_t dimension_, block_ = 0;
    std::vector<float> signs_;
    std::vector<float> dense_;  // row-major dimension × dimension, only without Hadamard blocks
};

}  // namespace quantlens

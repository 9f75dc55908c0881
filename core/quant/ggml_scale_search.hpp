#pragma once
// The scale searches behind llama.cpp's K-quants, i-quants and importance-weighted legacy
// quants (ggml-quants.c; docs/quant-spec.md "ggml types"). Each one picks a scale (and for the
// asymmetric ones a minimum) for a small group of values and fills the group's codes.
//
// They are written so that every float operation happens in the order ggml's C performs it,
// with no fused multiply-add (the project builds with -ffp-contract=off): the bytes of a block
// depend on the last bit of these sums, and llama-quantize's bytes are the reference.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace quantlens::ggml {

// Round to nearest, ties to even, by adding 1.5·2^23 so the float adder rounds, then reading
// the low mantissa bits; exact for |x| < 2^22. Defined (if meaningless) for any input.
inline int nearest_int(float x) {
    const float shifted = x + 12582912.0f;
    std::int32_t bits;
    std::memcpy(&bits, &shifted, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

// Σx² over n values, in order (the σ² of ggml's importance weights).
inline float sum_of_squares(std::size_t n, const float* x) {
    float sum = 0;
    for (std::size_t i = 0; i < n; ++i)
        sum += x[i] * x[i];
    return sum;
}

// The per-column weights of one group as every weighted ggml quantizer forms them:
// importance · sqrt(σ² + x²).
inline void importance_weights(int n, const float* x, const float* importance, float sigma2, float* weights) {
    for (int l = 0; l < n; ++l)
        weights[l] = importance[l] * std::sqrt(sigma2 + x[l] * x[l]);
}

// The index of the entry of the ascending table `levels` (n entries) nearest to x; a tie goes to
// the upper entry. Below the first entry (or NaN) gives 0 or n − 1 as the comparisons fall.
int nearest_level(int n, const std::int8_t* levels, float x);

// Symmetric codes L in 0..2·nmax−1 (value l − nmax) for n values, weighted least squares:
// starts from the scale that maps the largest-magnitude value to −nmax, then tries nineteen
// nearby scales (±0.1 steps). Weights are `weights` or, when null, x². Returns the scale.
float symmetric_search(int n, int nmax, const float* x, std::int8_t* L, const float* weights);

// Q3_K's variant: the same start, then up to five passes that move single codes while that
// raises the weighted fit (weights x²). Codes as above.
float symmetric_refine_x2(int n, int nmax, const float* x, std::int8_t* L);

// Asymmetric codes L in 0..nmax with a minimum ≤ 0 (returned negated in *neg_min): starts from
// the min/max grid and tries nstep+1 scales (nmax + rmin + rdelta·k)/(max − min), each with the
// least-squares scale and minimum for its codes, keeping the one of least weighted error
// (absolute error when `absolute`, else squared). Weights are `weights` or, when null, x².
// `strict_range` selects the one difference between ggml's two versions: make_qkx2 gives up
// on an all-equal group (max == min), make_qkx3 on max <= min. Returns the scale.
float asymmetric_search(int n, int nmax, const float* x, const float* weights, std::uint8_t* L,
                        float* neg_min, std::uint8_t* scratch, float rmin, float rdelta, int nstep,
                        bool absolute, bool strict_range);

// Non-negative codes L in 0..nmax for the sub-block scales or minimums of a super-block,
// weighted by `weights` (the sub-blocks' total importance). Returns the super-block scale.
float positive_search(int n, int nmax, const float* x, std::uint8_t* L, const float* weights);

}  // namespace quantlens::ggml

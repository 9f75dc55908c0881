#pragma once
// AVX2 lanes for the K-quants' scale searches (quant/ggml_kquant_lanes.cpp). Callers check
// cpu_has_avx2() first.
#include <cstdint>

namespace quantlens::simd {

// asymmetric_search(32, nmax, x + 32·j, weights + 32·j, L + 32·j, &neg_mins[j], …, absolute =
// false, strict_range) for the eight sub-blocks j of one super-block of 256 values, bit for bit.
void asymmetric_search_x8(int nmax, const float* x, const float* weights, std::uint8_t* L, float* scales,
                          float* neg_mins, float rmin, float rdelta, int nstep, bool strict_range);

// symmetric_search(16, nmax, x + 16·j, L + 16·j, weights + 16·j or null) for eight sub-blocks
// j of 16 values (half a Q6_K super-block), bit for bit.
void symmetric_search16_x8(int nmax, const float* x, const float* weights, std::int8_t* L, float* scales);

// IQ4's group fit for sixteen inverse scales at once: for each t, Σ w·q·x and Σ w·q² over the
// 32 values, q = levels[nearest_level(16, levels, inverse_scales[t]·x)], in the scalar order.
void iq4_fits_x16(const std::int8_t* levels, const float* x, const float* weight, const float* inverse_scales,
                  float* sumqx, float* sumq2);

// L[j] = nearest_level(16, levels, id·x[j]) for j < n (a multiple of 8).
void iq4_codes_x8(const std::int8_t* levels, float id, const float* x, std::uint8_t* L, int n);

}  // namespace quantlens::simd

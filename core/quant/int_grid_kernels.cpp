// The hot loop of MSE-optimal clipping for integer grids, with an AVX2 path. Both paths
// compute e = x − round(clamp(x·(1/s)))·s in float (RNE, no FMA) and add e² in float64
// into lane i mod 8, then sum the lanes in the same order, so they agree to the bit.
#include <immintrin.h>

#include <algorithm>

#include "quant/group_scale.hpp"
#include "util/cpu_features.hpp"

namespace quantlens {

namespace {

double combine(const double* lanes) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

double squared_error_scalar(const float* x, std::size_t n, float scale, float qmin, float qmax) {
    const float inverse = reciprocal_of_scale(scale);
    double lanes[8] = {};
    for (std::size_t i = 0; i < n; ++i) {
        const float level = round_half_even(std::clamp(x[i] * inverse, qmin, qmax));
        const float e = x[i] - level * scale;
        lanes[i & 7] += static_cast<double>(e) * static_cast<double>(e);
    }
    return combine(lanes);
}

// e² of a float e is exact in double (48 significant bits), so fma(e, e, sum) rounds exactly
// as sum + e·e does: the FMA changes no bit, only the instruction count.
__attribute__((target("avx2,fma"))) double squared_error_avx2(const float* x, std::size_t n, float scale,
                                                              float qmin, float qmax) {
    const float inverse = reciprocal_of_scale(scale);
    const __m256 inv = _mm256_set1_ps(inverse), s = _mm256_set1_ps(scale), lo = _mm256_set1_ps(qmin),
                 hi = _mm256_set1_ps(qmax);
    __m256d low_lanes = _mm256_setzero_pd(), high_lanes = _mm256_setzero_pd();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 clamped = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, inv), lo), hi);
        const __m256 level = _mm256_round_ps(clamped, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m256 e = _mm256_sub_ps(v, _mm256_mul_ps(level, s));
        const __m256d e_low = _mm256_cvtps_pd(_mm256_castps256_ps128(e)),
                      e_high = _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1));
        low_lanes = _mm256_fmadd_pd(e_low, e_low, low_lanes);
        high_lanes = _mm256_fmadd_pd(e_high, e_high, high_lanes);
    }
    alignas(32) double lanes[8];
    _mm256_store_pd(lanes, low_lanes);
    _mm256_store_pd(lanes + 4, high_lanes);
    for (; i < n; ++i) {
        const float level = round_half_even(std::clamp(x[i] * inverse, qmin, qmax));
        const float e = x[i] - level * scale;
        lanes[i & 7] += static_cast<double>(e) * static_cast<double>(e);
    }
    return combine(lanes);
}

}  // namespace

double int_grid_squared_error(const float* x, std::size_t n, float scale, float qmin, float qmax) {
    static const bool avx2 = cpu_has_avx2();
    return avx2 ? squared_error_avx2(x, n, scale, qmin, qmax) : squared_error_scalar(x, n, scale, qmin, qmax);
}

double int_grid_squared_error_scalar_for_tests(const float* x, std::size_t n, float scale, float qmin,
                                               float qmax) {
    return squared_error_scalar(x, n, scale, qmin, qmax);
}

}  // namespace quantlens

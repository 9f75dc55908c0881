#include "quant/element_kernels.hpp"

#include <immintrin.h>

#include "util/cpu_features.hpp"

namespace quantlens {

namespace {

void dequantize_scalar(const MinifloatGrid& grid, const float* x, std::size_t n, float inverse, float scale,
                       float* out) {
    for (std::size_t i = 0; i < n; ++i)
        out[i] = grid.nearest(x[i] * inverse) * scale;
}

// MinifloatGrid::nearest, eight lanes at a time, step for step: mantissa rounding on the bit
// pattern for normals, RNE on the subnormal quantum below 2^emin, saturation, sign restored.
// min(max, r) keeps a NaN r as std::min(r, max) does.
__attribute__((target("avx2"))) void dequantize_avx2(const MinifloatGrid& grid, const float* x, std::size_t n,
                                                     float inverse, float scale, float* out) {
    const int drop = 23 - grid.mbits;
    const __m256i half_minus_one = _mm256_set1_epi32(static_cast<int>((1u << (drop - 1)) - 1));
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i keep = _mm256_set1_epi32(static_cast<int>(~((1u << drop) - 1)));
    const __m128i shift = _mm_cvtsi32_si128(drop);
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    const __m256 inv = _mm256_set1_ps(inverse), s = _mm256_set1_ps(scale);
    const __m256 min_normal = _mm256_set1_ps(grid.min_normal), max = _mm256_set1_ps(grid.max);
    const __m256 sub_inverse = _mm256_set1_ps(grid.inverse_quantum),
                 sub_quantum = _mm256_set1_ps(grid.subnormal_quantum);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
        const __m256 sign = _mm256_and_ps(v, sign_bit);
        const __m256 magnitude = _mm256_andnot_ps(sign_bit, v);
        __m256i bits = _mm256_castps_si256(magnitude);
        const __m256i odd = _mm256_and_si256(_mm256_srl_epi32(bits, shift), one);
        bits = _mm256_and_si256(_mm256_add_epi32(bits, _mm256_add_epi32(half_minus_one, odd)), keep);
        const __m256 normal = _mm256_castsi256_ps(bits);
        const __m256 subnormal = _mm256_mul_ps(_mm256_round_ps(_mm256_mul_ps(magnitude, sub_inverse),
                                                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                                               sub_quantum);
        const __m256 rounded =
            _mm256_blendv_ps(normal, subnormal, _mm256_cmp_ps(magnitude, min_normal, _CMP_LT_OQ));
        const __m256 saturated = _mm256_min_ps(max, rounded);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_or_ps(saturated, sign), s));
    }
    dequantize_scalar(grid, x + i, n - i, inverse, scale, out + i);
}

void table_scalar(const TableGrid& grid, const float* x, std::size_t n, float inverse, float scale,
                  float* out) {
    for (std::size_t i = 0; i < n; ++i)
        out[i] = grid.nearest(x[i] * inverse) * scale;
}

// TableGrid::quantize for small tables: the level's index is the number of midpoints below
// x (a tie stays low), counted eight lanes at a time, then the level gathered from the table.
__attribute__((target("avx2"))) void table_avx2(const TableGrid& grid, const float* x, std::size_t n,
                                                float inverse, float scale, float* out) {
    const __m256 inv = _mm256_set1_ps(inverse), s = _mm256_set1_ps(scale);
    const std::size_t count = grid.midpoints.size();
    __m256 midpoints[kSmallTable];
    for (std::size_t k = 0; k < count; ++k)
        midpoints[k] = _mm256_set1_ps(grid.midpoints[k]);
    const float* table = grid.table.data();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), inv);
        __m256i index = _mm256_setzero_si256();
        for (std::size_t k = 0; k < count; ++k)
            index = _mm256_sub_epi32(index, _mm256_castps_si256(_mm256_cmp_ps(midpoints[k], v, _CMP_LT_OQ)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(table, index, 4), s));
    }
    table_scalar(grid, x + i, n - i, inverse, scale, out + i);
}

}  // namespace

void table_dequantize(const TableGrid& grid, const float* x, std::size_t n, float inverse, float scale,
                      float* out) {
    static const bool avx2 = cpu_has_avx2();
    if (avx2 && grid.midpoints.size() <= kSmallTable)
        return table_avx2(grid, x, n, inverse, scale, out);
    table_scalar(grid, x, n, inverse, scale, out);
}

void table_dequantize_scalar_for_tests(const TableGrid& grid, const float* x, std::size_t n, float inverse,
                                       float scale, float* out) {
    table_scalar(grid, x, n, inverse, scale, out);
}

void minifloat_dequantize(const MinifloatGrid& grid, const float* x, std::size_t n, float inverse,
                          float scale, float* out) {
    static const bool avx2 = cpu_has_avx2();
    if (avx2)
        return dequantize_avx2(grid, x, n, inverse, scale, out);
    dequantize_scalar(grid, x, n, inverse, scale, out);
}

void minifloat_dequantize_scalar_for_tests(const MinifloatGrid& grid, const float* x, std::size_t n,
                                           float inverse, float scale, float* out) {
    dequantize_scalar(grid, x, n, inverse, scale, out);
}

}  // namespace quantlens

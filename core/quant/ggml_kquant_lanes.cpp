// The asymmetric scale search of Q4_K and Q5_K (ggml's make_qkx2_quants / make_qkx3_quants;
// quant/ggml_scale_search's asymmetric_search) on the eight sub-blocks of a super-block at once,
// one sub-block per AVX2 lane. Each lane performs exactly the scalar search's float operations in
// its order (no fused multiply-add; comparisons ordered, so NaN compares false as in C), and the
// search's branches become per-lane selects, so every lane's result is the scalar one bit for
// bit. Tests compare the two on every block of the ggml goldens; the benchmark measures both.
#include "quant/ggml_kquant_lanes.hpp"

#include <immintrin.h>

#include <cstdint>

namespace quantlens::simd {

namespace {

// round(v) to int, ties to even, as ggml's nearest_int: add 1.5·2^23, read the low mantissa.
__attribute__((target("avx2"))) __m256i nearest(__m256 v) {
    const __m256i bits = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
    return _mm256_sub_epi32(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                            _mm256_set1_epi32(0x00400000));
}

__attribute__((target("avx2"))) __m256i codes(__m256 iscale, __m256 x, __m256 min, __m256i top) {
    const __m256i l = nearest(_mm256_mul_ps(iscale, _mm256_sub_ps(x, min)));
    return _mm256_max_epi32(_mm256_setzero_si256(), _mm256_min_epi32(top, l));
}

// w·((scale·l + min) − x)², the scalar search's error term.
__attribute__((target("avx2"))) __m256 error_term(__m256 w, __m256 scale, __m256i l, __m256 min, __m256 x) {
    const __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), min), x);
    return _mm256_mul_ps(w, _mm256_mul_ps(diff, diff));
}

}  // namespace

__attribute__((target("avx2"))) void asymmetric_search_x8(int nmax, const float* x, const float* weights,
                                                          std::uint8_t* L, float* scales, float* neg_mins,
                                                          float rmin, float rdelta, int nstep,
                                                          bool strict_range) {
    constexpr int n = 32;
    const __m256i lane_offsets = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    __m256 xs[n], ws[n];
    for (int i = 0; i < n; ++i) {  // value i of every sub-block, side by side
        xs[i] = _mm256_i32gather_ps(x + i, lane_offsets, 4);
        ws[i] = _mm256_i32gather_ps(weights + i, lane_offsets, 4);
    }
    const __m256 zero = _mm256_setzero_ps();
    __m256 min = xs[0], max = xs[0], sum_w = ws[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, xs[0]);
    for (int i = 1; i < n; ++i) {
        min = _mm256_blendv_ps(min, xs[i], _mm256_cmp_ps(xs[i], min, _CMP_LT_OQ));
        max = _mm256_blendv_ps(max, xs[i], _mm256_cmp_ps(xs[i], max, _CMP_GT_OQ));
        sum_w = _mm256_add_ps(sum_w, ws[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(ws[i], xs[i]));
    }
    min = _mm256_blendv_ps(min, zero, _mm256_cmp_ps(min, zero, _CMP_GT_OQ));
    const __m256 first_min = min;
    const __m256 degenerate =
        strict_range ? _mm256_cmp_ps(max, min, _CMP_EQ_OQ) : _mm256_cmp_ps(max, min, _CMP_LE_OQ);
    const __m256 top = _mm256_set1_ps(static_cast<float>(nmax));
    const __m256i top_code = _mm256_set1_epi32(nmax);
    __m256 iscale = _mm256_div_ps(top, _mm256_sub_ps(max, min));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.0f), iscale);
    __m256i best[n], trial[n];
    __m256 best_error = zero;
    for (int i = 0; i < n; ++i) {
        best[i] = codes(iscale, xs[i], min, top_code);
        best_error = _mm256_add_ps(best_error, error_term(ws[i], scale, best[i], min, xs[i]));
    }
    for (int step = 0; step <= nstep; ++step) {
        const float shift = rmin + rdelta * static_cast<float>(step);
        iscale = _mm256_div_ps(_mm256_add_ps(_mm256_set1_ps(shift), top), _mm256_sub_ps(max, min));
        __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < n; ++i) {
            trial[i] = codes(iscale, xs[i], min, top_code);
            const __m256 fl = _mm256_cvtepi32_ps(trial[i]);
            const __m256 wl = _mm256_mul_ps(ws[i], fl);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, fl));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, xs[i]));
        }
        const __m256 D = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        const __m256 usable = _mm256_cmp_ps(D, zero, _CMP_GT_OQ);
        __m256 this_scale =
            _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), D);
        __m256 this_min =
            _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), D);
        const __m256 positive = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
        this_min = _mm256_blendv_ps(this_min, zero, positive);
        this_scale = _mm256_blendv_ps(this_scale, _mm256_div_ps(sum_xl, sum_l2), positive);
        __m256 error = zero;
        for (int i = 0; i < n; ++i)
            error = _mm256_add_ps(error, error_term(ws[i], this_scale, trial[i], this_min, xs[i]));
        const __m256 better = _mm256_and_ps(usable, _mm256_cmp_ps(error, best_error, _CMP_LT_OQ));
        if (_mm256_movemask_ps(better) == 0)
            continue;
        const __m256i keep = _mm256_castps_si256(better);
        for (int i = 0; i < n; ++i)
            best[i] = _mm256_blendv_epi8(best[i], trial[i], keep);
        best_error = _mm256_blendv_ps(best_error, error, better);
        scale = _mm256_blendv_ps(scale, this_scale, better);
        min = _mm256_blendv_ps(min, this_min, better);
    }
    // A sub-block whose values are all equal (or the minimum not below the maximum) stops before
    // the search in the scalar code: codes 0, scale 0, its clamped minimum.
    scale = _mm256_blendv_ps(scale, zero, degenerate);
    min = _mm256_blendv_ps(min, first_min, degenerate);
    const __m256i none = _mm256_castps_si256(degenerate);
    alignas(32) std::int32_t lanes[8];
    for (int i = 0; i < n; ++i) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_andnot_si256(none, best[i]));
        for (int j = 0; j < 8; ++j)
            L[32 * j + i] = static_cast<std::uint8_t>(lanes[j]);
    }
    _mm256_storeu_ps(scales, scale);
    _mm256_storeu_ps(neg_mins, _mm256_xor_ps(min, _mm256_set1_ps(-0.0f)));  // −min, as C negates
}

__attribute__((target("avx2"))) void symmetric_search16_x8(int nmax, const float* x, const float* weights,
                                                           std::int8_t* L, float* scales) {
    constexpr int n = 16;
    const __m256i lane_offsets = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps();
    __m256 xs[n], ws[n];
    __m256 amax = zero, max = zero;
    for (int i = 0; i < n; ++i) {
        xs[i] = _mm256_i32gather_ps(x + i, lane_offsets, 4);
        ws[i] = weights ? _mm256_i32gather_ps(weights + i, lane_offsets, 4) : _mm256_mul_ps(xs[i], xs[i]);
        const __m256 magnitude = _mm256_andnot_ps(sign, xs[i]);
        const __m256 larger = _mm256_cmp_ps(magnitude, amax, _CMP_GT_OQ);  // the first on ties
        amax = _mm256_blendv_ps(amax, magnitude, larger);
        max = _mm256_blendv_ps(max, xs[i], larger);
    }
    const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(1e-15f), _CMP_LT_OQ);
    const __m256i low = _mm256_set1_epi32(-nmax), high = _mm256_set1_epi32(nmax - 1);
    const float top = static_cast<float>(nmax);
    __m256i best_codes[n], trial[n];
    // One trial: codes for inverse scale iscale, and Σw·x·l, Σw·l².
    auto fit = [&](__m256 iscale, __m256i * codes, __m256 & sumlx, __m256 & suml2)
        __attribute__((target("avx2"))) {
        sumlx = suml2 = zero;
        for (int i = 0; i < n; ++i) {
            codes[i] = _mm256_max_epi32(low, _mm256_min_epi32(high, nearest(_mm256_mul_ps(iscale, xs[i]))));
            const __m256 fl = _mm256_cvtepi32_ps(codes[i]);
            sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(ws[i], xs[i]), fl));
            suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(ws[i], fl), fl));
        }
    };
    __m256 sumlx, suml2;
    fit(_mm256_div_ps(_mm256_set1_ps(-top), max), best_codes, sumlx, suml2);
    __m256 scale =
        _mm256_blendv_ps(_mm256_div_ps(sumlx, suml2), zero, _mm256_cmp_ps(suml2, zero, _CMP_EQ_OQ));
    __m256 best = _mm256_mul_ps(scale, sumlx);
    for (int step = -9; step <= 9; ++step) {
        if (step == 0)
            continue;
        const float shifted = -(top + 0.1f * static_cast<float>(step));
        fit(_mm256_div_ps(_mm256_set1_ps(shifted), max), trial, sumlx, suml2);
        const __m256 better =
            _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
                          _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        if (_mm256_movemask_ps(better) == 0)
            continue;
        const __m256i keep = _mm256_castps_si256(better);
        for (int i = 0; i < n; ++i)
            best_codes[i] = _mm256_blendv_epi8(best_codes[i], trial[i], keep);
        const __m256 this_scale = _mm256_div_ps(sumlx, suml2);
        scale = _mm256_blendv_ps(scale, this_scale, better);
        best = _mm256_blendv_ps(best, _mm256_mul_ps(this_scale, sumlx), better);
    }
    // An all-zero sub-block stops before the search: codes 0 (not nmax), scale 0.
    scale = _mm256_blendv_ps(scale, zero, all_zero);
    const __m256i none = _mm256_castps_si256(all_zero), offset = _mm256_set1_epi32(nmax);
    alignas(32) std::int32_t lanes[8];
    for (int i = 0; i < n; ++i) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                           _mm256_andnot_si256(none, _mm256_add_epi32(best_codes[i], offset)));
        for (int j = 0; j < 8; ++j)
            L[16 * j + i] = static_cast<std::int8_t>(lanes[j]);
    }
    _mm256_storeu_ps(scales, scale);
}

namespace {

// IQ4's 16 levels as floats in two registers, and a lookup of lane-wise indices 0..15.
struct Iq4Table {
    __m256 low, high;
};

__attribute__((target("avx2"))) __m256 level_of(const Iq4Table& table, __m256i index) {
    const __m256 in_high = _mm256_castsi256_ps(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(table.low, index),
                            _mm256_permutevar8x32_ps(table.high, index), in_high);
}

// nearest_level(16, levels, v) lane-wise: the bracketing pair by counting the levels at or
// below v, then the nearer of the two (the upper on ties); below the first level 0, at or above
// the last 15, NaN 15 (where the scalar binary search ends).
__attribute__((target("avx2"))) __m256i nearest_iq4(const Iq4Table& table, const float* levels, __m256 v) {
    __m256i low = _mm256_setzero_si256();
    for (int k = 1; k < 15; ++k)
        low = _mm256_sub_epi32(low,
                               _mm256_castps_si256(_mm256_cmp_ps(_mm256_set1_ps(levels[k]), v, _CMP_LE_OQ)));
    const __m256i high = _mm256_add_epi32(low, _mm256_set1_epi32(1));
    const __m256 below = _mm256_sub_ps(v, level_of(table, low));
    const __m256 above = _mm256_sub_ps(level_of(table, high), v);
    __m256i index =
        _mm256_blendv_epi8(high, low, _mm256_castps_si256(_mm256_cmp_ps(below, above, _CMP_LT_OQ)));
    const __m256i last = _mm256_set1_epi32(15);
    index = _mm256_blendv_epi8(index, last, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    index = _mm256_blendv_epi8(index, last,
                               _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_set1_ps(levels[15]), _CMP_GE_OQ)));
    return _mm256_blendv_epi8(index, _mm256_setzero_si256(),
                              _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_set1_ps(levels[0]), _CMP_LE_OQ)));
}

}  // namespace

__attribute__((target("avx2"))) void iq4_fits_x16(const std::int8_t* levels8, const float* x,
                                                  const float* weight, const float* inverse_scales,
                                                  float* sumqx, float* sumq2) {
    alignas(32) float levels[16];
    for (int k = 0; k < 16; ++k)
        levels[k] = static_cast<float>(levels8[k]);
    const Iq4Table table{_mm256_load_ps(levels), _mm256_load_ps(levels + 8)};
    for (int half = 0; half < 2; ++half) {
        const __m256 id = _mm256_loadu_ps(inverse_scales + 8 * half);
        __m256 sx = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
        for (int j = 0; j < 32; ++j) {
            const __m256 xj = _mm256_set1_ps(x[j]);
            const __m256 q = level_of(table, nearest_iq4(table, levels, _mm256_mul_ps(id, xj)));
            const __m256 wq = _mm256_mul_ps(_mm256_set1_ps(weight[j]), q);
            sx = _mm256_add_ps(sx, _mm256_mul_ps(wq, xj));
            s2 = _mm256_add_ps(s2, _mm256_mul_ps(wq, q));
        }
        _mm256_storeu_ps(sumqx + 8 * half, sx);
        _mm256_storeu_ps(sumq2 + 8 * half, s2);
    }
}

__attribute__((target("avx2"))) void iq4_codes_x8(const std::int8_t* levels8, float id, const float* x,
                                                  std::uint8_t* L, int n) {
    alignas(32) float levels[16];
    for (int k = 0; k < 16; ++k)
        levels[k] = static_cast<float>(levels8[k]);
    const Iq4Table table{_mm256_load_ps(levels), _mm256_load_ps(levels + 8)};
    alignas(32) std::int32_t lanes[8];
    for (int j = 0; j < n; j += 8) {
        const __m256i index =
            nearest_iq4(table, levels, _mm256_mul_ps(_mm256_set1_ps(id), _mm256_loadu_ps(x + j)));
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), index);
        for (int k = 0; k < 8; ++k)
            L[j + k] = static_cast<std::uint8_t>(lanes[k]);
    }
}

}  // namespace quantlens::simd

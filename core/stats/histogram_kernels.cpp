#include "stats/histogram_kernels.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/cpu_features.hpp"

namespace quantlens {

namespace {

inline float value_at(const float* x, const float* base, std::size_t i) {
    return base ? x[i] - base[i] : x[i];
}

FiniteRange finite_range_scalar(const float* x, const float* base, std::size_t n, std::size_t start,
                                FiniteRange r) {
    for (std::size_t i = start; i < n; ++i) {
        float v = value_at(x, base, i);
        if (!std::isfinite(v)) {
            ++r.non_finite;
            continue;
        }
        r.low = std::min(r.low, v);
        r.high = std::max(r.high, v);
    }
    return r;
}

__attribute__((target("avx2"))) FiniteRange finite_range_avx2(const float* x, const float* base,
                                                              std::size_t n) {
    const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
    __m256 low = inf, high = _mm256_sub_ps(_mm256_setzero_ps(), inf);
    std::uint64_t non_finite = 0;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        if (base)
            v = _mm256_sub_ps(v, _mm256_loadu_ps(base + i));
        const __m256 finite = _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(),
                                            _CMP_EQ_OQ);  // v − v is 0 only when finite
        non_finite += static_cast<std::uint64_t>(
            8 - __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(finite))));
        low = _mm256_min_ps(low, _mm256_blendv_ps(inf, v, finite));
        high = _mm256_max_ps(high, _mm256_blendv_ps(_mm256_sub_ps(_mm256_setzero_ps(), inf), v, finite));
    }
    alignas(32) float lows[8], highs[8];
    _mm256_store_ps(lows, low);
    _mm256_store_ps(highs, high);
    FiniteRange r{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  non_finite};
    for (int k = 0; k < 8; ++k) {
        r.low = std::min(r.low, lows[k]);
        r.high = std::max(r.high, highs[k]);
    }
    return finite_range_scalar(x, base, n, i, r);
}

std::uint64_t count_scalar(const float* x, const float* base, std::size_t start, std::size_t n, float low,
                           float scale, std::size_t bins, std::uint32_t* counts) {
    const float last = static_cast<float>(bins - 1);
    std::uint64_t bad = 0;
    for (std::size_t i = start; i < n; ++i) {
        float v = value_at(x, base, i);
        if (!std::isfinite(v)) {
            ++bad;
            continue;
        }
        const float position = (v - low) * scale;  // NaN (0 · inf) goes to bin 0, as in the AVX2 path
        ++counts[static_cast<std::size_t>(static_cast<int>(position > 0 ? std::min(position, last) : 0.0f))];
    }
    return bad;
}

__attribute__((target("avx2"))) std::uint64_t count_avx2(const float* x, const float* base, std::size_t n,
                                                         float low, float scale, std::size_t bins,
                                                         std::uint32_t* counts) {
    const __m256 lowv = _mm256_set1_ps(low), scalev = _mm256_set1_ps(scale),
                 lastv = _mm256_set1_ps(static_cast<float>(bins - 1));
    std::uint64_t bad = 0;
    alignas(32) std::int32_t index[8];
    // Four interleaved sub-histograms: neighbouring values often share a bin.
    std::uint32_t* sub[4] = {counts, counts + bins, counts + 2 * bins, counts + 3 * bins};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        if (base)
            v = _mm256_sub_ps(v, _mm256_loadu_ps(base + i));
        const __m256 finite = _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_EQ_OQ);
        const int mask = _mm256_movemask_ps(finite);
        // Clamped to [0, last] as the scalar path does: a value below `low` (a dequantized value
        // rounded past the weights' minimum) must not index before the counts.
        const __m256 position = _mm256_max_ps(
            _mm256_min_ps(_mm256_mul_ps(_mm256_sub_ps(v, lowv), scalev), lastv), _mm256_setzero_ps());
        _mm256_store_si256(reinterpret_cast<__m256i*>(index),
                           _mm256_cvttps_epi32(_mm256_and_ps(position, finite)));
        if (mask == 0xFF) {
            for (int k = 0; k < 8; ++k)
                ++sub[k & 3][index[k]];
        } else {
            for (int k = 0; k < 8; ++k) {
                if (mask & (1 << k))
                    ++sub[k & 3][index[k]];
                else
                    ++bad;
            }
        }
    }
    return bad + count_scalar(x, base, i, n, low, scale, bins, counts);
}

}  // namespace

FiniteRange finite_range(const float* x, const float* base, std::size_t n) {
    static const bool avx2 = cpu_has_avx2();
    if (avx2)
        return finite_range_avx2(x, base, n);
    return finite_range_scalar(
        x, base, n, 0, {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), 0});
}

std::uint64_t count_bins(const float* x, const float* base, std::size_t n, float low, float scale,
                         std::size_t bins, std::uint32_t* counts) {
    static const bool avx2 = cpu_has_avx2();
    // counts holds 4 sub-histograms of `bins` each; the caller sums them.
    if (avx2)
        return count_avx2(x, base, n, low, scale, bins, counts);
    return count_scalar(x, base, 0, n, low, scale, bins, counts);
}

}  // namespace quantlens

#include "stats/summary_kernels.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/cpu_features.hpp"

namespace quantlens {

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Lanes l = i mod 8 of the |x| sum, over the whole vector part first and the tail after.
double lane_total(const double* lanes) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

void summarize_tail(const float* x, std::size_t start, std::size_t n, ValueSummary& s, double* lanes) {
    for (std::size_t i = start; i < n; ++i) {
        const float v = x[i], magnitude = std::fabs(v);
        lanes[i - start] += static_cast<double>(magnitude);
        s.min = std::min(s.min, v);
        s.max = std::max(s.max, v);
        s.absmax = std::max(s.absmax, magnitude);
        s.zeros += v == 0;
        s.non_finite += !(magnitude <= std::numeric_limits<float>::max());
        if (v != 0)
            s.smallest_magnitude = std::min(s.smallest_magnitude, magnitude);
    }
}

ValueSummary summarize_scalar(const float* x, std::size_t n) {
    ValueSummary s{kInf, -kInf, 0, kInf, 0, 0, 0};
    double lanes[8] = {};
    const std::size_t whole = n / 8 * 8;
    for (std::size_t i = 0; i < whole; i += 8) {
        double block[8] = {};
        summarize_tail(x + i, 0, 8, s, block);
        for (int l = 0; l < 8; ++l)
            lanes[l] += block[l];
    }
    double tail[8] = {};
    summarize_tail(x, whole, n, s, tail);
    s.sum_abs = lane_total(lanes) + lane_total(tail);
    return s;
}

__attribute__((target("avx2"))) ValueSummary summarize_avx2(const float* x, std::size_t n) {
    const __m256 sign = _mm256_set1_ps(-0.0f), zero = _mm256_setzero_ps(), inf = _mm256_set1_ps(kInf),
                 largest = _mm256_set1_ps(std::numeric_limits<float>::max());
    __m256 lo = inf, hi = _mm256_set1_ps(-kInf), top = zero, smallest = inf;
    __m256d sum_low = _mm256_setzero_pd(), sum_high = _mm256_setzero_pd();
    std::uint64_t zeros = 0, non_finite = 0;
    const std::size_t whole = n / 8 * 8;
    for (std::size_t i = 0; i < whole; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i), magnitude = _mm256_andnot_ps(sign, v);
        lo = _mm256_min_ps(lo, v);
        hi = _mm256_max_ps(hi, v);
        top = _mm256_max_ps(top, magnitude);
        const __m256 is_zero = _mm256_cmp_ps(v, zero, _CMP_EQ_OQ);
        zeros += static_cast<std::uint64_t>(
            __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(is_zero))));
        non_finite +=
            static_cast<std::uint64_t>(8 - __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(
                                               _mm256_cmp_ps(magnitude, largest, _CMP_LE_OQ)))));
        smallest = _mm256_min_ps(smallest, _mm256_blendv_ps(magnitude, inf, is_zero));
        sum_low = _mm256_add_pd(sum_low, _mm256_cvtps_pd(_mm256_castps256_ps128(magnitude)));
        sum_high = _mm256_add_pd(sum_high, _mm256_cvtps_pd(_mm256_extractf128_ps(magnitude, 1)));
    }
    alignas(32) float los[8], his[8], tops[8], smalls[8];
    alignas(32) double lanes[8];
    _mm256_store_ps(los, lo);
    _mm256_store_ps(his, hi);
    _mm256_store_ps(tops, top);
    _mm256_store_ps(smalls, smallest);
    _mm256_store_pd(lanes, sum_low);
    _mm256_store_pd(lanes + 4, sum_high);
    ValueSummary s{kInf, -kInf, 0, kInf, 0, zeros, non_finite};
    for (int l = 0; l < 8; ++l) {
        s.min = std::min(s.min, los[l]);
        s.max = std::max(s.max, his[l]);
        s.absmax = std::max(s.absmax, tops[l]);
        s.smallest_magnitude = std::min(s.smallest_magnitude, smalls[l]);
    }
    double tail[8] = {};
    summarize_tail(x, whole, n, s, tail);
    s.sum_abs = lane_total(lanes) + lane_total(tail);
    return s;
}

std::uint64_t outliers_scalar(const float* x, std::size_t n, double mean, double threshold) {
    std::uint64_t count = 0;
    for (std::size_t i = 0; i < n; ++i)
        count += std::fabs(static_cast<double>(x[i]) - mean) > threshold;
    return count;
}

__attribute__((target("avx2"))) std::uint64_t outliers_avx2(const float* x, std::size_t n, double mean,
                                                            double threshold) {
    const __m256d m = _mm256_set1_pd(mean), t = _mm256_set1_pd(threshold), sign = _mm256_set1_pd(-0.0);
    std::uint64_t count = 0;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d deviation =
            _mm256_andnot_pd(sign, _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), m));
        count += static_cast<std::uint64_t>(__builtin_popcount(
            static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(deviation, t, _CMP_GT_OQ)))));
    }
    return count + outliers_scalar(x + i, n - i, mean, threshold);
}

double sum_scalar(const float* x, std::size_t n) {
    double lanes[4] = {};
    for (std::size_t i = 0; i < n; ++i)
        lanes[i % 4] += static_cast<double>(x[i]);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

__attribute__((target("avx2"))) double sum_avx2(const float* x, std::size_t n) {
    __m256d acc = _mm256_setzero_pd();
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4)
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, acc);
    for (std::size_t l = 0; i < n; ++i, ++l)
        lanes[l] += static_cast<double>(x[i]);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

void central_scalar(const float* x, std::size_t n, double mean, double* s2, double* s3, double* s4) {
    for (std::size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean, d2 = d * d;
        s2[i % 4] += d2;
        s3[i % 4] += d2 * d;
        s4[i % 4] += d2 * d2;
    }
}

__attribute__((target("avx2"))) void central_avx2(const float* x, std::size_t n, double mean, double* s2,
                                                  double* s3, double* s4) {
    const __m256d m = _mm256_set1_pd(mean);
    __m256d a2 = _mm256_setzero_pd(), a3 = a2, a4 = a2;
    std::size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d d = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), m), d2 = _mm256_mul_pd(d, d);
        a2 = _mm256_add_pd(a2, d2);
        a3 = _mm256_add_pd(a3, _mm256_mul_pd(d2, d));
        a4 = _mm256_add_pd(a4, _mm256_mul_pd(d2, d2));
    }
    _mm256_storeu_pd(s2, a2);
    _mm256_storeu_pd(s3, a3);
    _mm256_storeu_pd(s4, a4);
    central_scalar(x + i, n - i, mean, s2, s3, s4);  // i is a multiple of 4: the tail keeps its lanes
}

}  // namespace

double sum_values(const float* x, std::size_t n) {
    static const bool avx2 = cpu_has_avx2();
    return avx2 ? sum_avx2(x, n) : sum_scalar(x, n);
}

void central_sums(const float* x, std::size_t n, double mean, double& m2, double& m3, double& m4) {
    static const bool avx2 = cpu_has_avx2();
    double s2[4] = {}, s3[4] = {}, s4[4] = {};
    if (avx2)
        central_avx2(x, n, mean, s2, s3, s4);
    else
        central_scalar(x, n, mean, s2, s3, s4);
    m2 = (s2[0] + s2[1]) + (s2[2] + s2[3]);
    m3 = (s3[0] + s3[1]) + (s3[2] + s3[3]);
    m4 = (s4[0] + s4[1]) + (s4[2] + s4[3]);
}

ValueSummary summarize_values(const float* x, std::size_t n) {
    static const bool avx2 = cpu_has_avx2();
    return avx2 ? summarize_avx2(x, n) : summarize_scalar(x, n);
}

std::uint64_t count_outliers(const float* x, std::size_t n, double mean, double threshold) {
    static const bool avx2 = cpu_has_avx2();
    return avx2 ? outliers_avx2(x, n, mean, threshold) : outliers_scalar(x, n, mean, threshold);
}

}  // namespace quantlens

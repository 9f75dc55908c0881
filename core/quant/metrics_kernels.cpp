#include "quant/metrics_kernels.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "util/cpu_features.hpp"

namespace quantlens {

namespace {

struct Lanes {
    double signal[8] = {}, noise[8] = {}, dot[8] = {}, energy[8] = {};
    float worst = 0, low = INFINITY, high = -INFINITY;

    void add(std::size_t i, float x, float y) {
        const float e = y - x;
        const double xd = x, yd = y, ed = e;
        signal[i & 7] += xd * xd;
        noise[i & 7] += ed * ed;
        dot[i & 7] += xd * yd;
        energy[i & 7] += yd * yd;
        worst = std::max(worst, std::fabs(e));
        low = std::min(low, e);
        high = std::max(high, e);
    }
    static double combine(const double* v) {
        return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }
    ErrorSums sums() const {
        return {combine(signal), combine(noise), combine(dot), combine(energy), worst, low, high};
    }
};

ErrorSums error_sums_scalar(const float* x, const float* y, std::size_t n) {
    Lanes lanes;
    for (std::size_t i = 0; i < n; ++i)
        lanes.add(i, x[i], y[i]);
    return lanes.sums();
}

__attribute__((target("avx2"))) ErrorSums error_sums_avx2(const float* x, const float* y, std::size_t n) {
    __m256d signal[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()}, noise[2] = {signal[0], signal[0]},
            dot[2] = {signal[0], signal[0]}, energy[2] = {signal[0], signal[0]};
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 worst = _mm256_setzero_ps(), low = _mm256_set1_ps(INFINITY), high = _mm256_set1_ps(-INFINITY);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i), yv = _mm256_loadu_ps(y + i), ev = _mm256_sub_ps(yv, xv);
        worst = _mm256_max_ps(worst, _mm256_andnot_ps(sign, ev));
        low = _mm256_min_ps(low, ev);
        high = _mm256_max_ps(high, ev);
        const __m256d xs[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(xv)),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1))};
        const __m256d ys[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(yv)),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(yv, 1))};
        const __m256d es[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(ev)),
                               _mm256_cvtps_pd(_mm256_extractf128_ps(ev, 1))};
        for (int h = 0; h < 2; ++h) {
            signal[h] = _mm256_add_pd(signal[h], _mm256_mul_pd(xs[h], xs[h]));
            noise[h] = _mm256_add_pd(noise[h], _mm256_mul_pd(es[h], es[h]));
            dot[h] = _mm256_add_pd(dot[h], _mm256_mul_pd(xs[h], ys[h]));
            energy[h] = _mm256_add_pd(energy[h], _mm256_mul_pd(ys[h], ys[h]));
        }
    }
    Lanes lanes;
    for (int h = 0; h < 2; ++h) {
        _mm256_storeu_pd(lanes.signal + 4 * h, signal[h]);
        _mm256_storeu_pd(lanes.noise + 4 * h, noise[h]);
        _mm256_storeu_pd(lanes.dot + 4 * h, dot[h]);
        _mm256_storeu_pd(lanes.energy + 4 * h, energy[h]);
    }
    alignas(32) float w[8], l[8], u[8];
    _mm256_store_ps(w, worst);
    _mm256_store_ps(l, low);
    _mm256_store_ps(u, high);
    for (int k = 0; k < 8; ++k) {
        lanes.worst = std::max(lanes.worst, w[k]);
        lanes.low = std::min(lanes.low, l[k]);
        lanes.high = std::max(lanes.high, u[k]);
    }
    for (; i < n; ++i)
        lanes.add(i, x[i], y[i]);
    return lanes.sums();
}

}  // namespace

ErrorSums combine(const ErrorSums& a, const ErrorSums& b) {
    return {a.signal + b.signal,        a.noise + b.noise,      a.dot + b.dot,           a.energy + b.energy,
            std::max(a.worst, b.worst), std::min(a.low, b.low), std::max(a.high, b.high)};
}

ErrorSums error_sums(const float* x, const float* y, std::size_t n) {
    static const bool avx2 = cpu_has_avx2();
    return avx2 ? error_sums_avx2(x, y, n) : error_sums_scalar(x, y, n);
}

}  // namespace quantlens

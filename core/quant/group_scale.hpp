#pragma once
// Choosing one group's scale (and zero point) from its values: min-max, percentile or
// MSE-optimal clipping (docs/formats.md §1), then rounding to how the scale is stored.
// Shared by round-to-nearest, stochastic rounding and GPTQ.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "quant/element_grid.hpp"
#include "quant/quantizer_family.hpp"

namespace quantlens {

// MSE clipping candidates: ratios 1, 0.99…, 0.2 of the min-max range (100 of them).
inline constexpr int kClipCandidates = 100;
inline float clip_ratio(int k) {
    return 1.0f - static_cast<float>(k) * 0.8f / (kClipCandidates - 1);
}

enum class ScaleRule {
    AbsMax,      // scale = clipped max|x| / grid max
    AbsMean,     // scale = mean|x| (BitNet's ternary absmean, binary's mean |w|)
    PowerOfTwo,  // AbsMax rounded up to a power of two (log2: every level a power of two)
};

// p-th percentile (nearest rank) of the values.
inline float percentile_of(std::vector<float> values, double percentile) {
    if (values.empty())
        return 0;
    auto rank = static_cast<std::size_t>(std::ceil(percentile / 100.0 * static_cast<double>(values.size())));
    rank = std::clamp<std::size_t>(rank, 1, values.size()) - 1;
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank), values.end());
    return values[rank];
}

// The multiplier that maps a value onto the grid. A zero scale (a group with nothing to
// represent) maps every value to level 0, so such a group dequantizes to exact zeros whatever
// the grid (binary's ±1 included); stored scales are otherwise at least 2^-126 (stored_scale),
// so the reciprocal is always finite.
inline float reciprocal_of_scale(float scale) {
    return scale > 0 ? 1.0f / scale : 0.0f;
}

// The smallest scale a group with something in it gets. Integer and minifloat scales follow
// PyTorch's observers and compressed-tensors' calculate_qparams, which clamp them at float32's
// epsilon, 2^-23 (docs/formats.md §1), so a row of values that small quantizes to zeros as it
// does there. The other grids only need a finite reciprocal: 2^-126, the smallest normal float.
inline float scale_floor(QuantFormat format) {
    switch (format) {
        case QuantFormat::Int:
        case QuantFormat::Fp8E4M3:
        case QuantFormat::Fp8E5M2:
        case QuantFormat::Fp6E3M2:
        case QuantFormat::Fp6E2M3:
        case QuantFormat::Fp4E2M1: return 0x1p-23f;
        default: return std::numeric_limits<float>::min();
    }
}

inline float scale_from_range(float range, float grid_max, ScaleRule rule, const QuantSpec& spec) {
    if (!(range > 0))
        return 0.0f;  // an all-zero group: exact zeros (reciprocal_of_scale)
    float scale = std::max(range / grid_max, scale_floor(spec.format));
    if (rule == ScaleRule::PowerOfTwo)
        return stored_scale(scale, ScaleStorage::E8M0);
    return stored_scale(scale, spec.scale_storage);
}

// Σ (x − nearest(x/scale)·scale)² for an integer grid, accumulated in float64 over eight
// lanes (element i in lane i mod 8) so the AVX2 and scalar paths give identical sums.
double int_grid_squared_error(const float* x, std::size_t n, float scale, float qmin, float qmax);
double int_grid_squared_error_scalar_for_tests(const float* x, std::size_t n, float scale, float qmin,
                                               float qmax);  // its scalar twin

// max|x| and min/max over eight independent lanes: the weights are finite (quantize() refuses
// others), so the order does not change the result, and the lanes let the compiler vectorise
// what one running maximum would serialise (std::max's NaN rule blocks that otherwise).
inline float absmax_of(const float* x, std::size_t n) {
    float lane[8] = {};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k)
            lane[k] = std::max(lane[k], std::fabs(x[i + k]));
    for (; i < n; ++i)
        lane[0] = std::max(lane[0], std::fabs(x[i]));
    return *std::max_element(lane, lane + 8);
}

inline void min_max_of(const float* x, std::size_t n, float& low, float& high) {
    float lows[8] = {}, highs[8] = {};  // start at 0: the affine range always holds zero
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) {
            lows[k] = std::min(lows[k], x[i + k]);
            highs[k] = std::max(highs[k], x[i + k]);
        }
    for (; i < n; ++i) {
        lows[0] = std::min(lows[0], x[i]);
        highs[0] = std::max(highs[0], x[i]);
    }
    low = *std::min_element(lows, lows + 8);
    high = *std::max_element(highs, highs + 8);
}

template <class Grid>
double squared_error_at(const Grid& grid, const float* x, std::size_t n, float scale) {
    if constexpr (std::is_base_of_v<IntGrid, Grid>)
        return int_grid_squared_error(x, n, scale, grid.qmin, grid.qmax);
    const float inverse = reciprocal_of_scale(scale);
    double error = 0;
    for (std::size_t i = 0; i < n; ++i) {
        float e = x[i] - grid.nearest(x[i] * inverse) * scale;
        error += static_cast<double>(e) * e;
    }
    return error;
}

template <class Grid>
float choose_scale(const Grid& grid, ScaleRule rule, const QuantSpec& spec, const float* x, std::size_t n) {
    const float grid_max = grid.max_value();
    if (rule == ScaleRule::AbsMean) {
        double sum = 0;
        for (std::size_t i = 0; i < n; ++i)
            sum += std::fabs(x[i]);
        return scale_from_range(
            static_cast<float>(sum / static_cast<double>(std::max<std::size_t>(n, 1))) * grid_max, grid_max,
            rule, spec);
    }
    float range = absmax_of(x, n);
    if (spec.clip == ClipMethod::Percentile) {
        std::vector<float> magnitudes(n);
        for (std::size_t i = 0; i < n; ++i)
            magnitudes[i] = std::fabs(x[i]);
        range = percentile_of(std::move(magnitudes), spec.percentile);
    } else if (spec.clip == ClipMethod::Mse && range > 0) {
        float best_scale = scale_from_range(range, grid_max, rule, spec);
        double best = std::numeric_limits<double>::infinity();
        for (int k = 0; k < kClipCandidates; ++k) {
            float scale = scale_from_range(range * clip_ratio(k), grid_max, rule, spec);
            double error = squared_error_at(grid, x, n, scale);
            if (error < best) {
                best = error;
                best_scale = scale;
            }
        }
        return best_scale;
    }
    return scale_from_range(range, grid_max, rule, spec);
}

struct AffineParameters {
    float scale = 1, zero = 0;
};

// Asymmetric integers (docs/formats.md §1): range [min(x,0), max(x,0)], zero point z.
inline AffineParameters affine_for(float low, float high, float qmax, ScaleStorage storage) {
    AffineParameters p;
    // high/qmax − low/qmax: (high − low) would overflow for values near ±FLT_MAX
    p.scale = high > low
                  ? stored_scale(std::max(high / qmax - low / qmax, scale_floor(QuantFormat::Int)), storage)
                  : 1.0f;
    p.zero = std::clamp(std::nearbyint(-low / p.scale), 0.0f, qmax);
    return p;
}

inline AffineParameters choose_affine(const QuantSpec& spec, const float* x, std::size_t n) {
    const float qmax = static_cast<float>((1 << spec.bits) - 1);
    float low = 0, high = 0;
    min_max_of(x, n, low, high);
    if (spec.clip == ClipMethod::Percentile) {
        std::vector<float> values(x, x + n);
        low = std::min(0.0f, percentile_of(values, 100.0 - spec.percentile));
        high = std::max(0.0f, percentile_of(std::move(values), spec.percentile));
    } else if (spec.clip == ClipMethod::Mse) {
        AffineParameters best_p = affine_for(low, high, qmax, spec.scale_storage);
        double best = std::numeric_limits<double>::infinity();
        for (int k = 0; k < kClipCandidates; ++k) {
            auto p = affine_for(low * clip_ratio(k), high * clip_ratio(k), qmax, spec.scale_storage);
            // level − z is the integer grid [−z, qmax − z]
            double error = int_grid_squared_error(x, n, p.scale, -p.zero, qmax - p.zero);
            if (error < best) {
                best = error;
                best_p = p;
            }
        }
        return best_p;
    }
    return affine_for(low, high, qmax, spec.scale_storage);
}

}  // namespace quantlens

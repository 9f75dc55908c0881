#pragma once
// The values a format can represent, in the format's own units (before the scale):
// integers, minifloats (docs/formats.md §2), or a table (NF4 docs/formats.md §3, log2, binary). Each grid is
// a small concrete type so the quantizer's loops are templated on it (no virtual calls per element).
// nearest() saturates at ±max; ties are documented per grid.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "quant/quant_spec.hpp"

namespace quantlens {

// Round half to even for |x| < 2^22: adding 1.5·2^23 leaves no fraction bits, so the FPU's
// default rounding does the work (and loops using it vectorise).
inline float round_half_even(float x) {
    constexpr float kMagic = 12582912.0f;
    return (x + kMagic) - kMagic;
}

// Integers qmin..qmax; ties to even. Clamping first keeps round_half_even in its range.
struct IntGrid {
    float qmin, qmax;
    float max_value() const { return std::max(-qmin, qmax); }
    float nearest(float x) const { return round_half_even(std::clamp(x, qmin, qmax)); }
    float floor_level(float x) const { return std::clamp(std::floor(x), qmin, qmax); }
    float ceil_level(float x) const { return std::clamp(std::ceil(x), qmin, qmax); }
    std::int32_t code(float level) const { return static_cast<std::int32_t>(level); }
    std::pair<float, std::int32_t> quantize(float x) const {
        float level = nearest(x);
        return {level, code(level)};
    }
    std::vector<float> levels() const;
};

// Sign + exponent + mantissa without inf/NaN codes in range (saturating, as OCP MX does):
// mbits mantissa bits, emin = exponent of the smallest normal, max = largest magnitude.
// Ties to even mantissa. code() is the format's bit pattern.
struct MinifloatGrid {
    MinifloatGrid(int exponent_bits, int mantissa_bits, int exponent_bias, float max_value);
    int ebits, mbits, bias;
    float max;
    float min_normal, subnormal_quantum, inverse_quantum;  // 2^emin, 2^(emin − mbits) and its inverse
    float nearest(float x) const;
    float floor_level(float x) const;  // the largest level <= x
    float ceil_level(float x) const;   // the smallest level >= x
    float max_value() const { return max; }
    std::int32_t code(float level) const;
    std::pair<float, std::int32_t> quantize(float x) const {
        float level = nearest(x);
        return {level, code(level)};
    }
    std::vector<float> levels() const;
    int emin() const { return 1 - bias; }
};

// Sorted table of levels; nearest decides at midpoints, a tie going to the lower level
// (bitsandbytes' NF4 comparisons are strict greater-than).
struct TableGrid {
    std::vector<float> table;  // ascending
    std::vector<float> midpoints;
    explicit TableGrid(std::vector<float> values);
    float max_value() const { return std::max(-table.front(), table.back()); }
    float nearest(float x) const;
    float floor_level(float x) const;
    float ceil_level(float x) const;
    std::int32_t code(float level) const;
    std::pair<float, std::int32_t> quantize(float x) const;  // one search for both
    std::vector<float> levels() const { return table; }
};

// Inline so the quantizers' per-element loops vectorise.
inline float MinifloatGrid::nearest(float x) const {
    // Normal range: round float32's mantissa to mbits bits, ties to even, on the bit pattern
    // (a carry into the exponent is the correct next binade). Below 2^emin the spacing is the
    // fixed subnormal quantum 2^(emin − mbits): scale to integers and round there. Beyond the
    // largest value, saturate (OCP's saturating conversion). Branch-free so loops vectorise.
    const float magnitude = std::fabs(x);
    const int drop = 23 - mbits;
    std::uint32_t bits = std::bit_cast<std::uint32_t>(magnitude);
    bits += ((1u << (drop - 1)) - 1) + ((bits >> drop) & 1u);
    bits &= ~((1u << drop) - 1);
    const float normal = std::bit_cast<float>(bits);
    const float subnormal =
        round_half_even(magnitude * inverse_quantum) * subnormal_quantum;  // exact: powers of two
    const float rounded = magnitude < min_normal ? subnormal : normal;
    return std::copysign(std::min(rounded, max), x);
}

inline std::int32_t MinifloatGrid::code(float level) const {
    // The level is exact in float32: re-bias its exponent and keep the top mbits of its
    // mantissa; below 2^emin it is a multiple of the subnormal quantum.
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(level);
    const std::uint32_t sign = bits >> 31;
    const float magnitude = std::fabs(level);
    const int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127;
    const std::uint32_t normal =
        static_cast<std::uint32_t>(exponent + bias) << mbits | ((bits >> (23 - mbits)) & ((1u << mbits) - 1));
    const std::uint32_t subnormal = static_cast<std::uint32_t>(magnitude * inverse_quantum);
    const std::uint32_t body = magnitude < min_normal ? subnormal : normal;
    return static_cast<std::int32_t>(sign << (ebits + mbits) | body);
}

MinifloatGrid minifloat_grid(QuantFormat format);  // fp8/fp6/fp4 (and their MX element types)
const TableGrid& nf4_grid();                       // docs/formats.md §3 code table
TableGrid log2_grid(int bits);                     // 0 and ±2^-k, k = 0 .. 2^(bits-1) - 2

// {-1, +1} by sign, 0 going to +1 (sign(w) with BitNet's convention for exact zeros).
struct BinaryGrid {
    float max_value() const { return 1.0f; }
    float nearest(float x) const { return x >= 0 ? 1.0f : -1.0f; }
    float floor_level(float x) const { return x >= 1 ? 1.0f : -1.0f; }
    float ceil_level(float x) const { return x > -1 ? 1.0f : -1.0f; }
    std::int32_t code(float level) const { return level > 0 ? 1 : 0; }
    std::pair<float, std::int32_t> quantize(float x) const {
        float level = nearest(x);
        return {level, code(level)};
    }
    std::vector<float> levels() const { return {-1.0f, 1.0f}; }
};

}  // namespace quantlens

#include "quant/element_grid.hpp"

#include <bit>
#include <stdexcept>

namespace quantlens {

std::vector<float> IntGrid::levels() const {
    std::vector<float> values;
    for (float q = qmin; q <= qmax; q += 1)
        values.push_back(q);
    return values;
}

namespace {
// The grid spacing at magnitude m: 2^(max(exponent(m), emin) - mbits).
float quantum_at(float magnitude, int emin, int mbits) {
    int exponent = magnitude > 0 ? std::max(std::ilogb(magnitude), emin) : emin;
    return std::ldexp(1.0f, exponent - mbits);
}
}  // namespace

MinifloatGrid::MinifloatGrid(int exponent_bits, int mantissa_bits, int exponent_bias, float max_value)
    : ebits(exponent_bits),
      mbits(mantissa_bits),
      bias(exponent_bias),
      max(max_value),
      min_normal(std::ldexp(1.0f, 1 - exponent_bias)),
      subnormal_quantum(std::ldexp(1.0f, 1 - exponent_bias - mantissa_bits)),
      inverse_quantum(std::ldexp(1.0f, exponent_bias - 1 + mantissa_bits)) {}

float MinifloatGrid::floor_level(float x) const {  // the largest level <= x
    float magnitude = std::min(std::fabs(x), max);
    float quantum = quantum_at(magnitude, emin(), mbits);
    if (x >= 0)
        return std::floor(magnitude / quantum) * quantum;
    return -std::min(std::ceil(magnitude / quantum) * quantum, max);
}

float MinifloatGrid::ceil_level(float x) const {
    return -floor_level(-x);
}  // the smallest level >= x

std::vector<float> MinifloatGrid::levels() const {
    std::vector<float> positive{0.0f};
    for (float v = std::ldexp(1.0f, emin() - mbits); v <= max; v += quantum_at(v, emin(), mbits))
        positive.push_back(v);
    std::vector<float> values;
    for (auto it = positive.rbegin(); it != positive.rend(); ++it)
        if (*it > 0)
            values.push_back(-*it);
    values.insert(values.end(), positive.begin(), positive.end());
    return values;
}

TableGrid::TableGrid(std::vector<float> values) : table(std::move(values)) {
    std::sort(table.begin(), table.end());
    for (std::size_t i = 0; i + 1 < table.size(); ++i)
        midpoints.push_back((table[i] + table[i + 1]) / 2);
}

std::pair<float, std::int32_t> TableGrid::quantize(float x) const {
    // The number of midpoints below x is the level's index; a tie (x == midpoint) stays on
    // the lower level. Small tables (NF4) count with compares; large ones search.
    std::size_t index = 0;
    if (midpoints.size() <= 32) {
        for (float midpoint : midpoints)
            index += midpoint < x;
    } else {
        index = static_cast<std::size_t>(std::lower_bound(midpoints.begin(), midpoints.end(), x) -
                                         midpoints.begin());
    }
    return {table[index], static_cast<std::int32_t>(index)};
}

float TableGrid::nearest(float x) const {
    return quantize(x).first;
}

float TableGrid::floor_level(float x) const {
    auto it = std::upper_bound(table.begin(), table.end(), x);
    return it == table.begin() ? table.front() : *(it - 1);
}

float TableGrid::ceil_level(float x) const {
    auto it = std::lower_bound(table.begin(), table.end(), x);
    return it == table.end() ? table.back() : *it;
}

std::int32_t TableGrid::code(float level) const {  // a level's index: the midpoints below it
    if (midpoints.size() <= 32) {
        std::int32_t index = 0;
        for (float midpoint : midpoints)
            index += midpoint < level;
        return index;
    }
    return static_cast<std::int32_t>(std::lower_bound(table.begin(), table.end(), level) - table.begin());
}

MinifloatGrid minifloat_grid(QuantFormat format) {
    switch (format) {  // docs/formats.md §2; E4M3 keeps 448 (S.1111.110), E5M2's max normal is 57344
        case QuantFormat::Fp8E4M3:
        case QuantFormat::MxFp8E4M3: return MinifloatGrid(4, 3, 7, 448.0f);
        case QuantFormat::Fp8E5M2:
        case QuantFormat::MxFp8E5M2: return MinifloatGrid(5, 2, 15, 57344.0f);
        case QuantFormat::Fp6E3M2:
        case QuantFormat::MxFp6E3M2: return MinifloatGrid(3, 2, 3, 28.0f);
        case QuantFormat::Fp6E2M3:
        case QuantFormat::MxFp6E2M3: return MinifloatGrid(2, 3, 1, 7.5f);
        case QuantFormat::Fp4E2M1:
        case QuantFormat::MxFp4:
        case QuantFormat::NvFp4: return MinifloatGrid(2, 1, 1, 6.0f);
        default: break;
    }
    throw std::logic_error("minifloat_grid: not a minifloat format");
}

const TableGrid& nf4_grid() {
    static const TableGrid grid({-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                 -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
                                 0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f,
                                 0.7229568362236023f, 1.0f});
    return grid;
}

TableGrid log2_grid(int bits) {
    // 1 sign bit and (bits - 1) exponent bits; one code is zero, the rest are powers of two.
    int powers = (1 << (bits - 1)) - 1;
    std::vector<float> values{0.0f};
    for (int k = 0; k < powers; ++k) {
        values.push_back(std::ldexp(1.0f, -k));
        values.push_back(-std::ldexp(1.0f, -k));
    }
    return TableGrid(values);
}

}  // namespace quantlens

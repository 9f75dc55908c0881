#pragma once
// Pieces shared by the scaled-grid quantizer and GPTQ: group layout, per-group setup
// (scale, zero point, grid) and one element's rounding.
#include <cstdint>
#include <utility>
#include <vector>

#include "quant/element_grid.hpp"
#include "quant/element_kernels.hpp"
#include "quant/group_scale.hpp"

namespace quantlens {

// [begin, end) of each group in the row-major matrix, row by row.
inline std::vector<std::pair<std::size_t, std::size_t>> group_spans(const WeightMatrix& w,
                                                                    Granularity granularity,
                                                                    std::int64_t group) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    if (granularity == Granularity::Tensor) {
        if (!w.values.empty())
            spans.push_back({0, w.values.size()});
        return spans;
    }
    for (std::int64_t r = 0; r < w.rows; ++r)
        for (std::int64_t c = 0; c < w.cols; c += group)
            spans.push_back({static_cast<std::size_t>(r * w.cols + c),
                             static_cast<std::size_t>(r * w.cols + std::min(w.cols, c + group))});
    return spans;
}

template <class Grid>
struct GroupSetup {
    Grid grid;
    float scale;
    std::int32_t zero;  // added to a level to get its stored code (asymmetric integers)
};

// For asymmetric integers `grid` is IntGrid{0, qmax} and the group's grid becomes
// IntGrid{-z, qmax - z}; otherwise the grid is shared and only the scale is chosen.
template <class Grid>
GroupSetup<Grid> setup_group(const Grid& grid, ScaleRule rule, const QuantSpec& spec, const float* x,
                             std::size_t n) {
    if constexpr (std::is_same_v<Grid, IntGrid>) {
        if (spec.format == QuantFormat::Int && !spec.symmetric) {
            auto p = choose_affine(spec, x, n);
            return {IntGrid{-p.zero, grid.qmax - p.zero}, p.scale, static_cast<std::int32_t>(p.zero)};
        }
    }
    return {grid, choose_scale(grid, rule, spec, x, n), 0};
}

// level × scale for each element of [begin, end), and its stored code (plus the zero point)
// when wanted. Without codes, minifloat and small-table grids take their SIMD element loops.
template <bool kCodes, class Grid>
void quantize_run(const Grid& grid, const float* x, float inverse, float scale, std::int32_t zero,
                  std::size_t begin, std::size_t end, std::int32_t* codes, float* values) {
    if constexpr (!kCodes && std::is_same_v<Grid, MinifloatGrid>)
        return minifloat_dequantize(grid, x + begin, end - begin, inverse, scale, values + begin);
    if constexpr (!kCodes && std::is_same_v<Grid, TableGrid>)
        return table_dequantize(grid, x + begin, end - begin, inverse, scale, values + begin);
    for (std::size_t i = begin; i < end; ++i) {
        const auto [level, code] = grid.quantize(x[i] * inverse);
        if constexpr (kCodes)
            codes[i] = code + zero;
        values[i] = level * scale;
    }
}

inline std::uint64_t stochastic_state(std::uint64_t seed, std::uint64_t group) {
    return seed * 0x100000001B3ull ^ (group * 0x9E3779B97F4A7C15ull);
}

inline float uniform01(std::uint64_t& state) {  // splitmix64 -> [0, 1) with 24 bits
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * 0x1.0p-24f;
}

// Round to nearest, or stochastically: up with probability equal to the distance from the
// lower neighbour, so the expected level equals the input (within the grid's range).
template <class Grid>
float round_level(const Grid& grid, float scaled, Rounding rounding, std::uint64_t& state) {
    if (rounding != Rounding::Stochastic)
        return grid.nearest(scaled);
    float low = grid.floor_level(scaled), high = grid.ceil_level(scaled);
    if (!(high > low))
        return low;
    return uniform01(state) < (scaled - low) / (high - low) ? high : low;
}

}  // namespace quantlens

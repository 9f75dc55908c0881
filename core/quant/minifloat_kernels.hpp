#pragma once
// The element loop of the minifloat formats (fp8/fp6/fp4, MX and NVFP4 elements): every
// x[i]·inverse rounded to the grid (MinifloatGrid::nearest), times scale. An AVX2 path
// gives the same bits as the scalar one (both are exact bit manipulations and one RNE).
#include <cstddef>

#include "quant/element_grid.hpp"

namespace quantlens {

void minifloat_dequantize(const MinifloatGrid& grid, const float* x, std::size_t n, float inverse, float scale, float* out);
void minifloat_dequantize_scalar_for_tests(const MinifloatGrid& grid, const float* x, std::size_t n, float inverse, float scale, float* out);

}  // namespace quantlens

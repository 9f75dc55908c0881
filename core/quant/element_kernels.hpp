#pragma once
// Element loops of the preview path (no codes): every x[i]·inverse rounded to the grid's
// nearest level, times scale. Minifloats (fp8/fp6/fp4, MX and NVFP4 elements) and small
// tables (NF4, log2). The AVX2 paths give the same bits as the scalar ones: the minifloat one
// is exact bit manipulation and one RNE, the table one counts the same midpoint compares.
#include <cstddef>

#include "quant/element_grid.hpp"

namespace quantlens {

void minifloat_dequantize(const MinifloatGrid& grid, const float* x, std::size_t n, float inverse,
                          float scale, float* out);
void minifloat_dequantize_scalar_for_tests(const MinifloatGrid& grid, const float* x, std::size_t n,
                                           float inverse, float scale, float* out);

// Tables of at most kSmallTable midpoints (the rest use TableGrid::nearest's search).
constexpr std::size_t kSmallTable = 32;
void table_dequantize(const TableGrid& grid, const float* x, std::size_t n, float inverse, float scale,
                      float* out);
void table_dequantize_scalar_for_tests(const TableGrid& grid, const float* x, std::size_t n, float inverse,
                                       float scale, float* out);

}  // namespace quantlens

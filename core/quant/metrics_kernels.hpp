#pragma once
// Sums behind the error metrics over one chunk, accumulated in float64 in eight lanes
// (element i in lane i mod 8) with an AVX2 path; both paths give identical results.
#include <cstddef>

namespace quantlens {

struct ErrorSums {
    double signal = 0, noise = 0, dot = 0, energy = 0;  // Σx², Σe², Σxy, Σy²
    float worst = 0, low = 0, high = 0;                 // max|e|, min e, max e (e = y − x)
};

ErrorSums error_sums(const float* x, const float* y, std::size_t n);

// a then b (the order matters for bit-identical results).
ErrorSums combine(const ErrorSums& a, const ErrorSums& b);

}  // namespace quantlens

#pragma once
// The two passes of a histogram over x[i] (or x[i] − base[i] when base is given), with AVX2
// paths: the range of the finite values, and counting into bins. Scalar twins give the same
// results (min/max and the float bin arithmetic are exact operations).
#include <cstddef>
#include <cstdint>

namespace quantlens {

struct FiniteRange {
    float low, high;
    std::uint64_t non_finite;
};

FiniteRange finite_range(const float* x, const float* base, std::size_t n);
// Adds to counts[bins]; returns how many values were not finite.
std::uint64_t count_bins(const float* x, const float* base, std::size_t n, float low, float scale,
                         std::size_t bins, std::uint32_t* counts);

}  // namespace quantlens

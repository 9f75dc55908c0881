#pragma once
// The element-wise passes of layer_statistics, with AVX2 paths and scalar twins that give
// identical results (min/max/compare are exact; the |x| sum uses the same eight lanes).
#include <cstddef>
#include <cstdint>

namespace quantlens {

struct ValueSummary {
    float min, max, absmax,
        smallest_magnitude;  // smallest non-zero |x|; min/max undefined with non-finite values
    double sum_abs;
    std::uint64_t zeros, non_finite;
};

ValueSummary summarize_values(const float* x, std::size_t n);
// How many |x − mean| > threshold, compared in double.
std::uint64_t count_outliers(const float* x, std::size_t n, double mean, double threshold);

// Σx and the central sums Σd², Σd³, Σd⁴ (d = x − mean) in double, each over four lanes
// l = i mod 4 added as (l0 + l1) + (l2 + l3): the same on both paths.
double sum_values(const float* x, std::size_t n);
void central_sums(const float* x, std::size_t n, double mean, double& m2, double& m3, double& m4);

}  // namespace quantlens

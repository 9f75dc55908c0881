#pragma once
// Central moments up to the fourth, in float64, robust to a large mean: each block of values
// is summed in two passes (its exact mean, then powers of deviations from it) and blocks are
// merged with Pébay's pairwise formulas (Pébay 2008, "Formulas for robust, one-pass parallel
// computation of covariances and arbitrary-order statistical moments"), in a fixed order.
// docs/metrics.md §1–4: m_k = (1/n) Σ (x − x̄)^k; excess (Fisher) kurtosis g2 = m4/m2² − 3 and
// skewness g1 = m3/m2^{3/2}, the biased estimators, as scipy.stats' defaults.
#include <cstddef>
#include <cstdint>
#include <span>

namespace quantlens {

struct Moments {
    std::uint64_t n = 0;
    double mean = 0;
    double m2 = 0, m3 = 0, m4 = 0;  // Σ (x − mean)^k, k = 2, 3, 4

    static Moments of(std::span<const float> values);  // two passes over a block (in cache)
    void merge(const Moments& other);                  // this then other

    double variance() const { return n ? m2 / static_cast<double>(n) : 0; }  // population (divides by n)
    double std() const;
    double skewness() const;         // g1; 0 when the variance is 0
    double excess_kurtosis() const;  // g2 (Fisher, biased); 0 when the variance is 0
};

// Moments of a whole array: blocks of 8192 in parallel, merged in order (thread-independent).
Moments moments_of(std::span<const float> values);

}  // namespace quantlens

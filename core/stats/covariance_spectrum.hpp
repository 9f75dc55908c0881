#pragma once
// The part of QSUR (docs/metrics.md §5) that needs linear algebra: the column means and
// variances of a sample matrix (rows are samples) and the log-determinant of its sample
// covariance Σ = XcᵀXc/(n−1), with eigenvalues below 1e-12·λ_max floored there.
//
// How: when the covariance is well conditioned, log det comes from a Cholesky factor (n·d²
// for the Gram matrix plus d³/3), which is ~15× faster at d = 4096 than an eigen-
// decomposition; otherwise (a pivot under 1e-9 of the largest, or a failed factorisation)
// from the eigenvalues (Eigen's SelfAdjointEigenSolver) with the floor applied. With fewer
// samples than dimensions (n − 1 < d) Σ has rank n − 1: its non-zero eigenvalues are those of
// the n×n Gram matrix, whose product is n·det(B)/(n−1)^(n−1) with B the Gram matrix of the
// first n − 1 centred rows (the centred rows sum to zero), and the other d − n + 1 take the
// floor, which needs λ_max (Lanczos on the Gram matrix).
#include <cstdint>
#include <span>
#include <vector>

namespace quantlens {

struct CovarianceSpectrum {
    std::vector<double> mean, variance;  // per column; variance with 1/(n−1)
    double log_det = 0;                  // Σ log max(λ_i, floor), natural log, over all d eigenvalues
    double lambda_max = 0;
    std::int64_t floored = 0;  // eigenvalues replaced by the floor (rank deficiency)
    bool eigensolver = false;  // false: Cholesky path
};

// values: row-major [rows, cols]; rows ≥ 2. force_eigensolver is for tests that compare paths.
CovarianceSpectrum covariance_spectrum(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                       bool force_eigensolver = false);

namespace detail {
// The same source compiled twice: for any x86-64, and with AVX2+FMA under a renamed Eigen
// namespace (so the two builds of Eigen's templates never meet at link time).
CovarianceSpectrum covariance_spectrum_generic(const float* values, std::int64_t rows, std::int64_t cols,
                                               bool force_eigensolver);
CovarianceSpectrum covariance_spectrum_avx2(const float* values, std::int64_t rows, std::int64_t cols,
                                            bool force_eigensolver);
}  // namespace detail

}  // namespace quantlens

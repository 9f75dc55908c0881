#pragma once
// QSUR, the quantization space utilization rate of OSTQuant (docs/metrics.md §5): the share of
// a per-tensor quantizer's hypercube that the data's ellipsoid fills. Samples are rows; for a
// weight [out, in] the rows are output channels and d = in, the dimension rotations act on.
//
//   log QSUR = (d/2)·log π − lgamma(d/2 + 1) + (d/2)·log c + ½·Σ log λ_i − d·log L
//   L = max_j(μ_j + r_j) − min_j(μ_j − r_j),  r_j = sqrt(c·Σ_jj),  c = χ²_d quantile at `confidence`
//
// Everything is in logs: at d in the thousands QSUR itself is far below the smallest double.
// QSUR^(1/d) ∈ (0, 1] is the per-dimension form, comparable across layers of different width.
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace quantlens {

struct QsurOptions {
    double confidence = 0.99;  // of the χ² quantile c; c cancels when the mean is zero
    bool rotated = true;       // also report QSUR after a randomized Hadamard rotation
    std::uint64_t rotation_seed = 0;
    // Also the OSTQuant paper's own construction (docs/metrics.md §5): the cube spanned by the
    // endpoints of the ellipsoid's principal axes. It needs the covariance's eigenvectors, an
    // eigendecomposition of d³ (about 9× the Cholesky path's time), so it is asked for.
    bool principal_axes = false;
};

struct Qsur {
    static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    std::int64_t samples = 0, dimension = 0;
    double log10_qsur = nan;
    double per_dimension = nan;       // QSUR^(1/d)
    double log10_qsur_rotated = nan;  // after R = H·diag(±1) on the input dimension; NaN when not asked
    double per_dimension_rotated = nan;
    double log10_qsur_principal_axes = nan;  // the paper's cube (QsurOptions::principal_axes)
    double per_dimension_principal_axes = nan;
    bool rank_deficient =
        false;  // fewer samples than dimensions or a singular covariance: floored eigenvalues
    std::int64_t floored_eigenvalues = 0;
};

// Closed form from the moments: Σ log λ_i, the mean μ and the diagonal Σ_jj of the covariance.
double log_qsur(double log_det, std::span<const double> mean, std::span<const double> variance,
                double confidence);

// The paper's form: the side L spans the endpoints μ ± √(c·λ_i)·q_i of every principal axis,
// L = max_j(μ_j + max_i √(cλ_i)|q_ij|) − min_j(μ_j − max_i √(cλ_i)|q_ij|). `axes` holds the unit
// eigenvectors row by row (d × d), eigenvalues[i] belongs to row i.
double log_qsur_principal_axes(std::span<const double> eigenvalues, std::span<const double> axes,
                               std::span<const double> mean, double confidence);

// Of a sample matrix, row-major [rows, cols]; rows ≥ 2.
Qsur qsur(std::span<const float> values, std::int64_t rows, std::int64_t cols,
          const QsurOptions& options = {});

}  // namespace quantlens

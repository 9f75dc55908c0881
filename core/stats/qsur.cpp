#include "stats/qsur.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <Eigen/Dense>
#include <boost/math/distributions/chi_squared.hpp>

#include "stats/input_rotation.hpp"
#include "stats/covariance_spectrum.hpp"
#include "util/huge_page_buffer.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

// Column means and variances (1/(n−1)) after rotating every row by R; float rows, double sums.
// Rows are split over the cores, each with its own sums, added in chunk order.
void rotated_moments(std::span<const float> values, std::int64_t rows, std::int64_t cols, std::uint64_t seed,
                     std::vector<double>& mean, std::vector<double>& variance) {
    const InputRotation rotation(cols, seed);
    const auto d = static_cast<std::size_t>(cols), n = static_cast<std::size_t>(rows);
    const HugePageBuffer buffer(values.size() * sizeof(float));
    float* rotated = buffer.as<float>();
    const std::size_t chunks = std::min<std::size_t>(max_threads(), std::max<std::size_t>(1, n / 64));
    const std::size_t step = (n + chunks - 1) / chunks;
    std::vector<std::vector<double>> partial(chunks, std::vector<double>(d, 0.0));
    parallel_for(chunks, 1, [&](std::size_t first, std::size_t last) {
        for (std::size_t c = first; c < last; ++c)
            for (std::size_t r = c * step; r < std::min(n, (c + 1) * step); ++r) {
                float* row = rotated + r * d;
                std::copy_n(values.data() + r * d, d, row);
                rotation.rotate(std::span<float>(row, d));
                for (std::size_t j = 0; j < d; ++j)
                    partial[c][j] += row[j];
            }
    });
    mean.assign(d, 0.0);
    for (const auto& sums : partial)
        for (std::size_t j = 0; j < d; ++j)
            mean[j] += sums[j];
    for (auto& m : mean)
        m /= static_cast<double>(rows);
    parallel_for(chunks, 1, [&](std::size_t first, std::size_t last) {
        for (std::size_t c = first; c < last; ++c) {
            std::fill(partial[c].begin(), partial[c].end(), 0.0);
            for (std::size_t r = c * step; r < std::min(n, (c + 1) * step); ++r)
                for (std::size_t j = 0; j < d; ++j) {
                    const double centred = rotated[r * d + j] - mean[j];
                    partial[c][j] += centred * centred;
                }
        }
    });
    variance.assign(d, 0.0);
    for (const auto& sums : partial)
        for (std::size_t j = 0; j < d; ++j)
            variance[j] += sums[j];
    for (auto& v : variance)
        v /= static_cast<double>(rows - 1);
}

double chi_squared_quantile(double d, double confidence) {
    return boost::math::quantile(boost::math::chi_squared_distribution<double>(d), confidence);
}

// log(V / L^d): the ellipsoid's volume π^(d/2)/Γ(d/2 + 1)·c^(d/2)·Π√λ_i over the cube of side L.
double log_volume_ratio(double d, double c, double log_det, double side) {
    if (!(side > 0) || !std::isfinite(log_det))
        return Qsur::nan;
    return 0.5 * d * std::log(std::numbers::pi) - std::lgamma(0.5 * d + 1) + 0.5 * d * std::log(c) +
           0.5 * log_det - d * std::log(side);
}

// The paper's form from the sample matrix: the covariance's eigenvalues (floored as
// covariance_spectrum floors them) and eigenvectors, in double.
double log_qsur_of_samples_by_axes(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                   double confidence) {
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> x(
        values.data(), rows, cols);
    const Eigen::RowVectorXd mean = x.cast<double>().colwise().mean();
    const Eigen::MatrixXd centred = x.cast<double>().rowwise() - mean;
    const Eigen::MatrixXd covariance = centred.transpose() * centred / static_cast<double>(rows - 1);
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(covariance);
    if (solver.info() != Eigen::Success)
        return Qsur::nan;
    Eigen::VectorXd lambda = solver.eigenvalues();
    const double floor = 1e-12 * std::max(lambda.maxCoeff(), 0.0);
    lambda = lambda.cwiseMax(floor);
    std::vector<double> mean_values(mean.data(), mean.data() + cols);
    const auto& q = solver.eigenvectors();
    std::vector<double> axis_values(static_cast<std::size_t>(cols * cols));
    for (std::int64_t i = 0; i < cols; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
            axis_values[static_cast<std::size_t>(i * cols + j)] = q(j, i);  // row i: axis i
    return log_qsur_principal_axes(std::vector<double>(lambda.data(), lambda.data() + cols), axis_values,
                                   mean_values, confidence);
}

}  // namespace

double log_qsur(double log_det, std::span<const double> mean, std::span<const double> variance,
                double confidence) {
    const auto d = static_cast<double>(mean.size());
    if (mean.empty() || mean.size() != variance.size() || !(confidence > 0 && confidence < 1))
        return Qsur::nan;
    const double c = chi_squared_quantile(d, confidence);
    double high = -INFINITY, low = INFINITY;
    for (std::size_t j = 0; j < mean.size(); ++j) {
        const double r = std::sqrt(c * variance[j]);
        high = std::max(high, mean[j] + r);
        low = std::min(low, mean[j] - r);
    }
    return log_volume_ratio(d, c, log_det, high - low);
}

double log_qsur_principal_axes(std::span<const double> eigenvalues, std::span<const double> axes,
                               std::span<const double> mean, double confidence) {
    const std::size_t d = mean.size();
    if (d == 0 || eigenvalues.size() != d || axes.size() != d * d || !(confidence > 0 && confidence < 1))
        return Qsur::nan;
    const double c = chi_squared_quantile(static_cast<double>(d), confidence);
    // Axis i's endpoints are μ ± √(cλ_i)·q_i; along coordinate j they reach μ_j ± √(cλ_i)·|q_ij|.
    std::vector<double> reach(d, 0.0);
    double log_det = 0;
    for (std::size_t i = 0; i < d; ++i) {
        if (!(eigenvalues[i] > 0))
            return Qsur::nan;
        log_det += std::log(eigenvalues[i]);
        const double radius = std::sqrt(c * eigenvalues[i]);
        for (std::size_t j = 0; j < d; ++j)
            reach[j] = std::max(reach[j], radius * std::fabs(axes[i * d + j]));
    }
    double high = -INFINITY, low = INFINITY;
    for (std::size_t j = 0; j < d; ++j) {
        high = std::max(high, mean[j] + reach[j]);
        low = std::min(low, mean[j] - reach[j]);
    }
    return log_volume_ratio(static_cast<double>(d), c, log_det, high - low);
}

Qsur qsur(std::span<const float> values, std::int64_t rows, std::int64_t cols, const QsurOptions& options) {
    const auto spectrum = covariance_spectrum(values, rows, cols);
    Qsur out;
    out.samples = rows;
    out.dimension = cols;
    out.floored_eigenvalues = spectrum.floored;
    out.rank_deficient = spectrum.floored > 0;
    const double d = static_cast<double>(cols);
    const double natural = log_qsur(spectrum.log_det, spectrum.mean, spectrum.variance, options.confidence);
    out.log10_qsur = natural / std::numbers::ln10;
    out.per_dimension = std::exp(natural / d);
    if (options.rotated) {
        // An orthogonal R leaves the eigenvalues (so log det) alone and moves only μ and Σ_jj.
        std::vector<double> mean, variance;
        rotated_moments(values, rows, cols, options.rotation_seed, mean, variance);
        const double rotated = log_qsur(spectrum.log_det, mean, variance, options.confidence);
        out.log10_qsur_rotated = rotated / std::numbers::ln10;
        out.per_dimension_rotated = std::exp(rotated / d);
    }
    if (options.principal_axes) {
        const double axes = log_qsur_of_samples_by_axes(values, rows, cols, options.confidence);
        out.log10_qsur_principal_axes = axes / std::numbers::ln10;
        out.per_dimension_principal_axes = std::exp(axes / d);
    }
    return out;
}

}  // namespace quantlens

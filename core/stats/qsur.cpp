#include "stats/qsur.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

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

}  // namespace

double log_qsur(double log_det, std::span<const double> mean, std::span<const double> variance,
                double confidence) {
    const auto d = static_cast<double>(mean.size());
    if (mean.empty() || mean.size() != variance.size() || !(confidence > 0 && confidence < 1))
        return Qsur::nan;
    const double c = boost::math::quantile(boost::math::chi_squared_distribution<double>(d), confidence);
    double high = -INFINITY, low = INFINITY;
    for (std::size_t j = 0; j < mean.size(); ++j) {
        const double r = std::sqrt(c * variance[j]);
        high = std::max(high, mean[j] + r);
        low = std::min(low, mean[j] - r);
    }
    const double side = high - low;
    if (!(side > 0) || !std::isfinite(log_det))
        return Qsur::nan;
    return 0.5 * d * std::log(std::numbers::pi) - std::lgamma(0.5 * d + 1) + 0.5 * d * std::log(c) +
           0.5 * log_det - d * std::log(side);
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
    return out;
}

}  // namespace quantlens

#include "stats/layer_statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "stats/summary_kernels.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens {

double percentile(std::vector<double> values, double p) {
    if (values.empty())
        return 0;
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    rank = std::clamp<std::size_t>(rank, 1, values.size()) - 1;
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank), values.end());
    return values[rank];
}

namespace {

struct RowSummary {
    Moments moments;
    float min = INFINITY, max = -INFINITY, absmax = 0,
          smallest_magnitude = INFINITY;  // smallest non-zero |x|
    double sum_abs = 0;
    std::uint64_t zeros = 0, non_finite = 0;
};

RowSummary summarize_row(std::span<const float> row) {
    RowSummary s;
    const auto v = summarize_values(row.data(), row.size());
    s.min = v.min;
    s.max = v.max;
    s.absmax = v.absmax;
    s.smallest_magnitude = v.smallest_magnitude;
    s.sum_abs = v.sum_abs;
    s.zeros = v.zeros;
    s.non_finite = v.non_finite;
    if (s.non_finite)
        return s;  // rejected by the caller
    // Moments per block of the row (two passes while it is in cache), merged in order.
    constexpr std::size_t kBlock = 8192;
    for (std::size_t start = 0; start < row.size(); start += kBlock)
        s.moments.merge(Moments::of(row.subspan(start, std::min(kBlock, row.size() - start))));
    return s;
}

Distribution distribution(std::vector<double> values) {
    Distribution d;
    if (values.empty())
        return d;
    d.max = *std::max_element(values.begin(), values.end());
    d.p95 = percentile(values, 95);
    d.median = percentile(std::move(values), 50);
    return d;
}

}  // namespace

LayerStatistics layer_statistics(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                 const StatisticsOptions& options) {
    if (rows < 0 || cols < 0 || static_cast<std::uint64_t>(rows * cols) != values.size())
        throw std::invalid_argument("layer_statistics: rows × cols does not match the values");
    LayerStatistics stats;
    stats.outlier_k = options.outlier_k;
    std::vector<RowSummary> summaries(static_cast<std::size_t>(rows));
    parallel_for(summaries.size(), 1, [&](std::size_t first, std::size_t last) {
        for (std::size_t r = first; r < last; ++r)
            summaries[r] = summarize_row(
                values.subspan(r * static_cast<std::size_t>(cols), static_cast<std::size_t>(cols)));
    });
    Moments total;
    double sum_abs = 0;
    std::uint64_t zeros = 0, non_finite = 0;
    float min = INFINITY, max = -INFINITY, absmax = 0, smallest = INFINITY;
    std::vector<double> channel_kurtosis, channel_absmax;
    for (const auto& s : summaries) {  // in row order: the result does not depend on threads
        total.merge(s.moments);
        sum_abs += s.sum_abs;
        zeros += s.zeros;
        non_finite += s.non_finite;
        min = std::min(min, s.min);
        max = std::max(max, s.max);
        absmax = std::max(absmax, s.absmax);
        smallest = std::min(smallest, s.smallest_magnitude);
        channel_kurtosis.push_back(s.moments.excess_kurtosis());
        channel_absmax.push_back(s.absmax);
    }
    if (non_finite)
        throw Error("", "weights", std::to_string(non_finite) + " values are not finite");
    stats.count = total.n;
    if (stats.count == 0)
        return stats;
    stats.mean = total.mean;
    stats.std = total.std();
    stats.min = min;
    stats.max = max;
    stats.absmax = absmax;
    stats.sparsity = static_cast<double>(zeros) / static_cast<double>(stats.count);
    stats.skewness = total.skewness();
    stats.excess_kurtosis = total.excess_kurtosis();
    const double mean_abs = sum_abs / static_cast<double>(stats.count);
    stats.max_to_mean = mean_abs > 0 ? absmax / mean_abs : 0;
    stats.channel_kurtosis = distribution(std::move(channel_kurtosis));
    stats.channel_absmax = distribution(std::move(channel_absmax));

    // Second pass: outliers need the global mean and std; histograms need the range.
    const double threshold = options.outlier_k * stats.std;
    std::vector<std::uint64_t> outliers(summaries.size(), 0);
    parallel_for(summaries.size(), 1, [&](std::size_t first, std::size_t last) {
        for (std::size_t r = first; r < last; ++r) {
            outliers[r] = count_outliers(values.data() + r * static_cast<std::size_t>(cols),
                                         static_cast<std::size_t>(cols), stats.mean, threshold);
        }
    });
    std::uint64_t outlier_count = 0;
    for (auto c : outliers)
        outlier_count += c;
    stats.outlier_fraction = static_cast<double>(outlier_count) / static_cast<double>(stats.count);
    stats.histogram =
        histogram(values, options.bins, min == max ? min - 0.5f : min, min == max ? max + 0.5f : max, 0);
    if (zeros < stats.count)
        stats.log_magnitude = log_magnitude_histogram(values, options.bins, smallest, absmax);
    return stats;
}

double row_max_to_median(std::span<const float> values, std::int64_t rows, std::int64_t cols) {
    double sum = 0;
    std::int64_t counted = 0;
    std::vector<double> magnitudes(static_cast<std::size_t>(std::max<std::int64_t>(cols, 0)));
    for (std::int64_t r = 0; r < rows && cols > 0; ++r) {
        for (std::int64_t c = 0; c < cols; ++c)
            magnitudes[static_cast<std::size_t>(c)] =
                std::fabs(static_cast<double>(values[static_cast<std::size_t>(r * cols + c)]));
        const double largest = *std::max_element(magnitudes.begin(), magnitudes.end());
        const auto middle = magnitudes.begin() + cols / 2;
        std::nth_element(magnitudes.begin(), middle, magnitudes.end());
        double median = *middle;
        if (cols % 2 == 0)  // and the largest of the lower half
            median = (median + *std::max_element(magnitudes.begin(), middle)) / 2;
        if (median > 0 && std::isfinite(largest)) {
            sum += largest / median;
            ++counted;
        }
    }
    return counted > 0 ? sum / static_cast<double>(counted) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace quantlens

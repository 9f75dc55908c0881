#pragma once
// Weight statistics of one layer (the data-free half of sensitivity), docs/metrics.md §1–4:
// moments, range, sparsity, kurtosis, skewness, max-to-mean ratio, outliers, histograms, and
// the same per output channel summarised as distributions.
#include <cstdint>
#include <span>

#include "stats/histogram.hpp"
#include "stats/moments.hpp"

namespace quantlens {

struct Distribution {  // of a per-channel quantity
    double median = 0, p95 = 0, max = 0;
};

struct LayerStatistics {
    std::uint64_t count = 0;
    double mean = 0, std = 0, min = 0, max = 0, absmax = 0;
    double sparsity = 0;         // fraction exactly zero
    double skewness = 0;         // g1, biased (scipy.stats.skew default)
    double excess_kurtosis = 0;  // g2, Fisher, biased (scipy.stats.kurtosis default)
    double max_to_mean = 0;      // MMR = max|x| / mean|x|
    double outlier_k = 3;
    double outlier_fraction = 0;  // share with |x − mean| > k·std
    Histogram histogram;          // linear, over [min, max]
    Histogram log_magnitude;      // of log10|x| over the non-zero values
    Distribution channel_kurtosis, channel_absmax;
};

struct StatisticsOptions {
    double outlier_k = 3;
    std::size_t bins = 256;  // at most 65535
};

// rows = output channels (WeightMatrix layout: row-major [rows, cols]).
LayerStatistics layer_statistics(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                 const StatisticsOptions& options = {});

// The mean over rows of max_j |x_rj| / median_j |x_rj| (the median of an even count being the mean
// of the two middle values, as NumPy's), over the rows whose median is not zero (where the ratio
// is undefined); NaN when no row has one. For layer inputs X [tokens or samples, features] this is
// the activation max-to-median ratio "Beyond Outliers" studies (docs/metrics.md §2).
double row_max_to_median(std::span<const float> values, std::int64_t rows, std::int64_t cols);

// Nearest-rank percentile (p in [0, 100]) of a copy of the values.
double percentile(std::vector<double> values, double p);

}  // namespace quantlens

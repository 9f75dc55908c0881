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

// Nearest-rank percentile (p in [0, 100]) of a copy of the values.
double percentile(std::vector<double> values, double p);

}  // namespace quantlens

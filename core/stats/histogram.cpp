#include "stats/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "util/parallel.hpp"

namespace quantlens {

Histogram histogram(std::span<const float> values, std::size_t bins) {
    Histogram result;
    result.counts.assign(bins, 0);
    float low = std::numeric_limits<float>::infinity(), high = -low;
    for (float v : values)
        if (std::isfinite(v)) { low = std::min(low, v); high = std::max(high, v); }
    if (!(low <= high) || bins == 0) {
        result.non_finite = values.size();
        return result;
    }
    if (low == high) { low -= 0.5f; high += 0.5f; }  // one value: a unit-wide range centred on it
    result.low = low;
    result.high = high;
    const double scale = static_cast<double>(bins) / (static_cast<double>(high) - low);
    std::mutex lock;
    parallel_for(values.size(), 1 << 20, [&](std::size_t begin, std::size_t end) {
        std::vector<std::uint64_t> local(bins, 0);
        std::uint64_t bad = 0;
        for (std::size_t i = begin; i < end; ++i) {
            float v = values[i];
            if (!std::isfinite(v)) { ++bad; continue; }
            auto bin = static_cast<std::size_t>((static_cast<double>(v) - low) * scale);
            ++local[std::min(bin, bins - 1)];
        }
        std::lock_guard guard(lock);
        for (std::size_t b = 0; b < bins; ++b) result.counts[b] += local[b];
        result.non_finite += bad;
    });
    return result;
}

}  // namespace quantlens

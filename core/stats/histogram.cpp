#include "stats/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "stats/histogram_kernels.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

// Counts of x (or x − base) over a known finite range, in parallel.
Histogram counted(const float* x, const float* base, std::size_t n, std::size_t bins, float low, float high,
                  std::uint64_t non_finite) {
    Histogram result;
    result.counts.assign(bins, 0);
    std::mutex lock;
    result.non_finite = non_finite;
    if (!(low <= high) || bins == 0)
        return result;
    if (low == high) {
        low -= 0.5f;
        high += 0.5f;
    }  // one value: a unit-wide range centred on it
    result.low = low;
    result.high = high;
    // Bin index in float: (v − low)·(bins / (high − low)), the top edge going to the last bin.
    const double wide_scale = static_cast<double>(bins) / (static_cast<double>(high) - low);
    if (wide_scale > std::numeric_limits<float>::max()) {
        // A range narrower than bins × 2^-128 (the errors of a group of subnormals): the float
        // factor would overflow, so these few values are counted in double.
        for (std::size_t i = 0; i < n; ++i) {
            const double v = base ? static_cast<double>(x[i]) - base[i] : x[i];
            if (std::isfinite(v))
                ++result.counts[static_cast<std::size_t>(
                    std::clamp((v - low) * wide_scale, 0.0, static_cast<double>(bins - 1)))];
        }
        return result;
    }
    const float scale = static_cast<float>(wide_scale);
    parallel_for(n, 1 << 20, [&](std::size_t begin, std::size_t end) {
        std::vector<std::uint32_t> local(4 * bins, 0);  // < 2^32 per chunk of at most n / threads values
        std::vector<std::uint64_t> wide(bins, 0);
        for (std::size_t start = begin; start < end; start += std::size_t{1} << 30) {
            std::size_t stop = std::min(end, start + (std::size_t{1} << 30));
            count_bins(x + start, base ? base + start : nullptr, stop - start, low, scale, bins,
                       local.data());
            for (std::size_t b = 0; b < bins; ++b) {
                wide[b] +=
                    std::uint64_t{local[b]} + local[bins + b] + local[2 * bins + b] + local[3 * bins + b];
                local[b] = local[bins + b] = local[2 * bins + b] = local[3 * bins + b] = 0;
            }
        }
        std::lock_guard guard(lock);
        for (std::size_t b = 0; b < bins; ++b)
            result.counts[b] += wide[b];
    });
    return result;
}

// Histogram of x (or x − base): the finite range, then the counts, each pass in parallel.
Histogram histogram_of(const float* x, const float* base, std::size_t n, std::size_t bins) {
    float low = std::numeric_limits<float>::infinity(), high = -low;
    std::uint64_t non_finite = 0;
    std::mutex lock;
    parallel_for(n, 1 << 20, [&](std::size_t begin, std::size_t end) {
        auto range = finite_range(x + begin, base ? base + begin : nullptr, end - begin);
        std::lock_guard guard(lock);
        low = std::min(low, range.low);
        high = std::max(high, range.high);
        non_finite += range.non_finite;
    });
    return counted(x, base, n, bins, low, high, non_finite);
}

}  // namespace

Histogram histogram(std::span<const float> values, std::size_t bins) {
    return histogram_of(values.data(), nullptr, values.size(), bins);
}

Histogram histogram(std::span<const float> values, std::size_t bins, float low, float high,
                    std::uint64_t non_finite) {
    return counted(values.data(), nullptr, values.size(), bins, low, high, non_finite);
}

Histogram central_histogram(std::span<const float> values, std::size_t bins, double mass) {
    std::vector<float> finite;
    finite.reserve(values.size());
    for (float v : values)
        if (std::isfinite(v))
            finite.push_back(v);
    const std::uint64_t non_finite = values.size() - finite.size();
    if (finite.empty())
        return counted(nullptr, nullptr, 0, bins, 1, 0, non_finite);  // no range: empty counts
    const double tail = std::clamp((1 - mass) / 2, 0.0, 0.5);
    const auto last = finite.size() - 1;
    const auto first_kept = static_cast<std::size_t>(std::floor(tail * static_cast<double>(last)));
    const auto last_kept = static_cast<std::size_t>(std::ceil((1 - tail) * static_cast<double>(last)));
    std::nth_element(finite.begin(), finite.begin() + static_cast<std::ptrdiff_t>(first_kept), finite.end());
    const float low = finite[first_kept];
    std::nth_element(finite.begin(), finite.begin() + static_cast<std::ptrdiff_t>(last_kept), finite.end());
    const float high = finite[last_kept];
    const auto inside =
        std::partition(finite.begin(), finite.end(), [&](float v) { return v >= low && v <= high; });
    auto result = counted(finite.data(), nullptr, static_cast<std::size_t>(inside - finite.begin()), bins,
                          low, high, non_finite);
    result.outside = static_cast<std::uint64_t>(finite.end() - inside);
    return result;
}

Histogram histogram_within(std::span<const float> values, std::size_t bins, float low, float high) {
    std::vector<float> inside;
    std::uint64_t non_finite = 0, outside = 0;
    for (float v : values) {
        if (!std::isfinite(v))
            ++non_finite;
        else if (v >= low && v <= high)
            inside.push_back(v);
        else
            ++outside;
    }
    auto result = counted(inside.data(), nullptr, inside.size(), bins, low, high, non_finite);
    result.outside = outside;
    return result;
}

Histogram histogram_of_difference(std::span<const float> a, std::span<const float> b, std::size_t bins) {
    return histogram_of(b.data(), a.data(), a.size(), bins);
}

Histogram histogram_of_difference(std::span<const float> a, std::span<const float> b, std::size_t bins,
                                  float low, float high, std::uint64_t non_finite) {
    return counted(b.data(), a.data(), a.size(), bins, low, high, non_finite);
}

}  // namespace quantlens

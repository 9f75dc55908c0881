#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>
#include <stdexcept>

#include "stats/histogram.hpp"
#include "util/parallel.hpp"

namespace quantlens {

Histogram log_magnitude_histogram(std::span<const float> values, std::size_t bins, float smallest,
                                  float largest) {
    Histogram result;
    if (bins > 65535)
        throw std::invalid_argument(
            "log_magnitude_histogram: at most 65535 bins (the lookup table holds bin numbers in 16 bits)");
    if (bins == 0 || !(smallest > 0) || !(largest >= smallest) || !std::isfinite(largest))
        return result;
    double low = std::log10(static_cast<double>(smallest)), high = std::log10(static_cast<double>(largest));
    if (low == high) {
        low -= 0.5;
        high += 0.5;
    }  // one magnitude: a unit-wide range centred on it
    result.low = low;
    result.high = high;
    result.counts.assign(bins, 0);
    // bound[k]: bits of the smallest float whose value is ≥ 10^(low + k·w). Positive floats
    // order as their bits, so a bin is found by comparing integers.
    const double width = (high - low) / static_cast<double>(bins);
    std::vector<std::uint32_t> bound(bins + 1, 0);
    bound[bins] = 0xFFFFFFFFu;
    for (std::size_t k = 1; k < bins; ++k) {
        const double edge = std::pow(10.0, low + static_cast<double>(k) * width);
        float f = static_cast<float>(edge);
        if (static_cast<double>(f) < edge)
            f = std::nextafter(f, INFINITY);
        bound[k] = std::max(bound[k - 1], std::bit_cast<std::uint32_t>(f));
    }
    // start[c]: the bin of the smallest magnitude whose top 16 bits are c.
    std::vector<std::uint16_t> start(32769);
    for (std::uint32_t c = 0; c <= 32768; ++c) {
        const std::uint32_t lowest = std::min<std::uint32_t>(c << 16, 0x7FFFFFFFu);
        start[c] = static_cast<std::uint16_t>(
            std::upper_bound(bound.begin() + 1, bound.begin() + static_cast<std::ptrdiff_t>(bins), lowest) -
            (bound.begin() + 1));
    }
    std::mutex lock;
    parallel_for(values.size(), 1 << 20, [&](std::size_t begin, std::size_t end) {
        // Four count tables by i mod 4, so that runs of one bin do not wait on each other's store.
        std::vector<std::uint64_t> local(4 * bins, 0);
        const auto edges = bound.begin() + 1;
        for (std::size_t i = begin; i < end; ++i) {
            const std::uint32_t magnitude = std::bit_cast<std::uint32_t>(values[i]) & 0x7FFFFFFFu;
            if (magnitude == 0)
                continue;
            const std::uint32_t cell = magnitude >> 16;
            std::size_t k = start[cell];
            k += magnitude >= bound[k + 1];  // bound[bins] is all ones: never reached
            if (start[cell + 1] >
                start[cell] + 1)  // a cell wider than a bin (a narrow range): search its bins
                k = static_cast<std::size_t>(
                    std::upper_bound(
                        edges + static_cast<std::ptrdiff_t>(start[cell]),
                        edges + static_cast<std::ptrdiff_t>(std::min<std::size_t>(start[cell + 1], bins - 1)),
                        magnitude) -
                    edges);
            ++local[(i & 3) * bins + k];
        }
        std::lock_guard guard(lock);
        for (std::size_t b = 0; b < bins; ++b)
            result.counts[b] += local[b] + local[bins + b] + local[2 * bins + b] + local[3 * bins + b];
    });
    return result;
}

}  // namespace quantlens

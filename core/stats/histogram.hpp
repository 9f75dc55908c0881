#pragma once
// Fixed-width histogram over [min, max] of the finite values (NaN/inf counted apart).
#include <cstdint>
#include <span>
#include <vector>

namespace quantlens {

struct Histogram {
    double low = 0, high = 0;           // edges of the first and last bin
    std::vector<std::uint64_t> counts;  // counts[i] covers [low + i*w, low + (i+1)*w), last bin closed
    std::uint64_t non_finite = 0;
    std::uint64_t outside = 0;  // finite values beyond [low, high], left out (central_histogram)
    double bin_width() const {
        return counts.empty() ? 0 : (high - low) / static_cast<double>(counts.size());
    }
    double bin_center(std::size_t i) const { return low + (static_cast<double>(i) + 0.5) * bin_width(); }
};

Histogram histogram(std::span<const float> values, std::size_t bins);

// The same when the finite range [low, high] of the values is already known.
Histogram histogram(std::span<const float> values, std::size_t bins, float low, float high,
                    std::uint64_t non_finite);

// The histogram of the central `mass` of the finite values (0.999: from the 0.05th to the
// 99.95th percentile, order statistics without interpolation), the tails counted in `outside`:
// heavy-tailed weights, whose few extreme values would put the rest in one bin, spread over the
// bins. Sorts a copy of the values partially (O(n) expected).
Histogram central_histogram(std::span<const float> values, std::size_t bins, double mass = 0.999);

// The histogram of the finite values within [low, high] on that range (another histogram's, so
// two distributions share bins), the finite values beyond it counted in `outside`.
Histogram histogram_within(std::span<const float> values, std::size_t bins, float low, float high);

// Histogram of b[i] − a[i] without materialising the differences (quantization error).
Histogram histogram_of_difference(std::span<const float> a, std::span<const float> b, std::size_t bins);
// The same when the finite range [low, high] of b − a is already known (one pass instead of two).
Histogram histogram_of_difference(std::span<const float> a, std::span<const float> b, std::size_t bins,
                                  float low, float high, std::uint64_t non_finite);

// Histogram of log10|x| over the non-zero values, whose magnitudes lie in [smallest, largest]
// (both known from a first pass). No logarithm per value: bin k holds |x| ≥ 10^(low + k·w),
// compared on the float's bits, with a table over the top 16 bits of |x| to start the search.
Histogram log_magnitude_histogram(std::span<const float> values, std::size_t bins, float smallest,
                                  float largest);

}  // namespace quantlens

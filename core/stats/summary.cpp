#include "stats/summary.hpp"

#include <cmath>
#include <limits>
#include <algorithm>
#include <vector>

#include "stats/moments.hpp"

namespace quantlens {

Summary summarize(std::span<const float> values) {
    // Non-finite values are counted and left out; the moments cover the finite ones.
    std::uint64_t non_finite = 0;
    float low = INFINITY, high = -INFINITY;
    for (float v : values) {
        if (!std::isfinite(v)) {
            ++non_finite;
            continue;
        }
        low = std::min(low, v);
        high = std::max(high, v);
    }
    Moments moments;
    if (non_finite == 0) {
        moments = moments_of(values);
    } else {
        std::vector<float> finite;
        finite.reserve(values.size() - non_finite);
        for (float v : values)
            if (std::isfinite(v))
                finite.push_back(v);
        moments = moments_of(finite);
    }
    Summary summary;
    summary.count = moments.n;
    summary.non_finite = non_finite;
    if (moments.n) {
        summary.min = low;
        summary.max = high;
        summary.mean = moments.mean;
        summary.std = moments.std();
    }
    return summary;
}

}  // namespace quantlens

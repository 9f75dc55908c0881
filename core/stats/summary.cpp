#include "stats/summary.hpp"

#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "util/parallel.hpp"

namespace quantlens {

namespace {
struct Partial {
    std::uint64_t n = 0, non_finite = 0;
    double mean = 0, m2 = 0;
    double min = std::numeric_limits<double>::infinity(), max = -std::numeric_limits<double>::infinity();

    void merge(const Partial& other) {
        if (other.n == 0) { non_finite += other.non_finite; return; }
        double total = static_cast<double>(n + other.n);
        double delta = other.mean - mean;
        mean += delta * static_cast<double>(other.n) / total;
        m2 += other.m2 + delta * delta * static_cast<double>(n) * static_cast<double>(other.n) / total;
        n += other.n;
        non_finite += other.non_finite;
        min = std::min(min, other.min);
        max = std::max(max, other.max);
    }
};

Partial block_stats(const float* x, std::size_t count) {
    // Two passes over a cache-sized block: exact mean, then squared deviations.
    Partial p;
    double sum = 0;
    for (std::size_t i = 0; i < count; ++i) {
        float v = x[i];
        if (!std::isfinite(v)) { ++p.non_finite; continue; }
        sum += v;
        ++p.n;
        p.min = std::min(p.min, static_cast<double>(v));
        p.max = std::max(p.max, static_cast<double>(v));
    }
    if (p.n == 0) return p;
    p.mean = sum / static_cast<double>(p.n);
    for (std::size_t i = 0; i < count; ++i) {
        if (!std::isfinite(x[i])) continue;
        double d = x[i] - p.mean;
        p.m2 += d * d;
    }
    return p;
}
}  // namespace

Summary summarize(std::span<const float> values) {
    Partial total;
    std::mutex lock;
    parallel_for(values.size(), 1 << 20, [&](std::size_t begin, std::size_t end) {
        Partial local;
        constexpr std::size_t kBlock = 8192;
        for (std::size_t i = begin; i < end; i += kBlock) local.merge(block_stats(values.data() + i, std::min(kBlock, end - i)));
        std::lock_guard guard(lock);
        total.merge(local);
    });
    Summary summary;
    summary.count = total.n;
    summary.non_finite = total.non_finite;
    if (total.n) {
        summary.min = total.min;
        summary.max = total.max;
        summary.mean = total.mean;
        summary.std = std::sqrt(total.m2 / static_cast<double>(total.n));
    }
    return summary;
}

}  // namespace quantlens

#include "stats/moments.hpp"

#include <cmath>
#include <vector>

#include "stats/summary_kernels.hpp"
#include "util/parallel.hpp"

namespace quantlens {

Moments Moments::of(std::span<const float> values) {
    Moments m;
    m.n = values.size();
    if (m.n == 0)
        return m;
    // Four lanes per sum (summary_kernels): the additions no longer wait on each other and
    // vectorise; the lane order is fixed, so the result is the same on every machine.
    m.mean = sum_values(values.data(), m.n) / static_cast<double>(m.n);
    central_sums(values.data(), m.n, m.mean, m.m2, m.m3, m.m4);
    return m;
}

void Moments::merge(const Moments& b) {
    if (b.n == 0)
        return;
    if (n == 0) {
        *this = b;
        return;
    }
    const double na = static_cast<double>(n), nb = static_cast<double>(b.n), nx = na + nb;
    const double delta = b.mean - mean, delta_n = delta / nx;
    const double m2x = m2 + b.m2 + delta * delta_n * na * nb;
    const double m3x =
        m3 + b.m3 + delta * delta_n * delta_n * na * nb * (na - nb) + 3 * delta_n * (na * b.m2 - nb * m2);
    const double m4x =
        m4 + b.m4 + delta * delta_n * delta_n * delta_n * na * nb * (na * na - na * nb + nb * nb) +
        6 * delta_n * delta_n * (na * na * b.m2 + nb * nb * m2) + 4 * delta_n * (na * b.m3 - nb * m3);
    n += b.n;
    mean += delta_n * nb;
    m2 = m2x;
    m3 = m3x;
    m4 = m4x;
}

double Moments::std() const {
    return std::sqrt(variance());
}

double Moments::skewness() const {
    if (n == 0 || m2 <= 0)
        return 0;
    const double count = static_cast<double>(n);
    return std::sqrt(count) * m3 / std::pow(m2, 1.5);
}

double Moments::excess_kurtosis() const {
    if (n == 0 || m2 <= 0)
        return 0;
    return static_cast<double>(n) * m4 / (m2 * m2) - 3;
}

Moments moments_of(std::span<const float> values) {
    constexpr std::size_t kBlock = 8192;
    std::vector<Moments> blocks((values.size() + kBlock - 1) / kBlock);
    parallel_for(blocks.size(), 64, [&](std::size_t first, std::size_t last) {
        for (std::size_t b = first; b < last; ++b)
            blocks[b] = Moments::of(values.subspan(b * kBlock, std::min(kBlock, values.size() - b * kBlock)));
    });
    Moments total;
    for (const auto& block : blocks)
        total.merge(block);
    return total;
}

}  // namespace quantlens

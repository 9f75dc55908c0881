#include "stats/rank_correlation.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <boost/math/distributions/students_t.hpp>

namespace quantlens {

std::vector<double> average_ranks(std::span<const double> values) {
    std::vector<std::size_t> order(values.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t i, std::size_t j) { return values[i] < values[j]; });
    std::vector<double> ranks(values.size());
    for (std::size_t start = 0; start < order.size();) {
        std::size_t end = start + 1;
        while (end < order.size() && values[order[end]] == values[order[start]])
            ++end;
        const double rank =
            (static_cast<double>(start + 1) + static_cast<double>(end)) / 2;  // mean of ranks start+1 .. end
        for (std::size_t k = start; k < end; ++k)
            ranks[order[k]] = rank;
        start = end;
    }
    return ranks;
}

double spearman(std::span<const double> a, std::span<const double> b) {
    if (a.size() != b.size())
        throw std::invalid_argument("spearman: the two series differ in length");
    if (a.size() < 2)
        return NAN;
    auto ra = average_ranks(a), rb = average_ranks(b);
    const double n = static_cast<double>(a.size());
    const double mean = (n + 1) / 2;  // the mean of ranks 1..n, ties included
    double sab = 0, saa = 0, sbb = 0;
    for (std::size_t i = 0; i < ra.size(); ++i) {
        const double da = ra[i] - mean, db = rb[i] - mean;
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if (saa == 0 || sbb == 0)
        return NAN;
    return sab / std::sqrt(saa * sbb);
}

double spearman_p_value(double rho, std::size_t n) {
    if (std::isnan(rho) || n < 3)
        return NAN;
    if (std::fabs(rho) >= 1)
        return 0;  // t is infinite
    const double degrees = static_cast<double>(n - 2);
    const double t = rho * std::sqrt(degrees / ((1 + rho) * (1 - rho)));
    const boost::math::students_t distribution(degrees);
    return 2 * boost::math::cdf(boost::math::complement(distribution, std::fabs(t)));
}

}  // namespace quantlens

#pragma once
// Spearman's rank correlation (docs/metrics.md §1–4): the Pearson correlation of the ranks, ties
// taking the average of the ranks they span (scipy.stats.spearmanr's definition).
#include <span>
#include <vector>

namespace quantlens {

std::vector<double> average_ranks(std::span<const double> values);  // 1-based
// NaN when fewer than two values or when either side is constant.
double spearman(std::span<const double> a, std::span<const double> b);
// Two-sided p-value of ρ over n pairs under no association (docs/metrics.md §4: Student's t on
// n − 2 degrees of freedom, as scipy.stats.spearmanr). NaN when ρ is NaN or n < 3.
double spearman_p_value(double rho, std::size_t n);

}  // namespace quantlens

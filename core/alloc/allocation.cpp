#include "alloc/allocation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.hpp"

namespace quantlens {

AllocationSolver::AllocationSolver(std::vector<AllocationLayer> layers, std::size_t resolution)
    : layers_(std::move(layers)) {
    if (resolution == 0)
        resolution = 1;
    std::uint64_t span = 0;  // Σ (dearest − cheapest) over layers
    std::vector<std::uint64_t> cheapest;
    for (const auto& layer : layers_) {
        if (layer.candidates.empty())
            throw Error("", "layer \"" + layer.name + "\"", "has no candidate spec");
        if (layer.candidates.size() > std::numeric_limits<std::uint16_t>::max())
            throw Error("", "layer \"" + layer.name + "\"", "has more than 65535 candidate specs");
        std::uint64_t low = std::numeric_limits<std::uint64_t>::max(), high = 0;
        for (const auto& candidate : layer.candidates) {
            if (!(candidate.damage >= 0) || !std::isfinite(candidate.damage))
                throw Error("", "layer \"" + layer.name + "\" spec \"" + candidate.spec + "\"",
                            "predicted damage must be finite and ≥ 0");
            low = std::min(low, candidate.cost_bits);
            high = std::max(high, candidate.cost_bits);
        }
        cheapest.push_back(low);
        base_bits_ += low;
        span += high - low;
    }
    unit_ = std::max<std::uint64_t>(1, (span + resolution - 1) / resolution);
    steps_ = static_cast<std::size_t>((span + unit_ - 1) / unit_);
    const std::size_t columns = steps_ + 1;
    units_.resize(layers_.size());
    // best[c]: least damage of the layers so far with at most c units above their cheapest.
    std::vector<double> best(columns, 0.0), next(columns);
    pick_.assign(layers_.size() * columns, 0);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        const auto& candidates = layers_[l].candidates;
        for (const auto& candidate : candidates)
            units_[l].push_back(
                static_cast<std::size_t>((candidate.cost_bits - cheapest[l] + unit_ - 1) / unit_));
        std::uint16_t* picks = pick_.data() + l * columns;
        for (std::size_t c = 0; c < columns; ++c) {
            double least = INFINITY;
            std::uint16_t taken = 0;
            for (std::size_t k = 0; k < candidates.size(); ++k) {
                if (units_[l][k] > c)
                    continue;
                const double damage = best[c - units_[l][k]] + candidates[k].damage;
                if (damage < least) {  // strict: the first of equals wins, so plans are reproducible
                    least = damage;
                    taken = static_cast<std::uint16_t>(k);
                }
            }
            next[c] = least;
            picks[c] = taken;
        }
        best.swap(next);
    }
    best_ = std::move(best);
    // The frontier: each step where the least damage falls, with the plan's true cost; plans
    // another beats on both counts (possible after rounding) are left out.
    std::vector<Allocation> candidates;
    for (std::size_t c = 0; c < columns; ++c)
        if (c == 0 || best_[c] < best_[c - 1])
            candidates.push_back(plan_at(c));
    std::sort(candidates.begin(), candidates.end(), [](const Allocation& a, const Allocation& b) {
        return a.cost_bits != b.cost_bits ? a.cost_bits < b.cost_bits : a.damage < b.damage;
    });
    for (auto& plan : candidates)
        if (frontier_.empty() || plan.damage < frontier_.back().damage)
            frontier_.push_back(std::move(plan));
}

std::uint64_t AllocationSolver::dearest_bits() const {
    std::uint64_t total = 0;
    for (const auto& layer : layers_) {
        std::uint64_t high = 0;
        for (const auto& candidate : layer.candidates)
            high = std::max(high, candidate.cost_bits);
        total += high;
    }
    return total;
}

Allocation AllocationSolver::plan_at(std::size_t step) const {
    Allocation plan;
    plan.choice.resize(layers_.size());
    std::size_t c = step;
    for (std::size_t l = layers_.size(); l-- > 0;) {
        const std::size_t k = pick_[l * (steps_ + 1) + c];
        plan.choice[l] = k;
        c -= units_[l][k];
    }
    for (std::size_t l = 0; l < layers_.size(); ++l) {  // summed in layer order: the same total every time
        plan.cost_bits += layers_[l].candidates[plan.choice[l]].cost_bits;
        plan.damage += layers_[l].candidates[plan.choice[l]].damage;
    }
    return plan;
}

std::optional<Allocation> AllocationSolver::solve(std::uint64_t budget_bits) const {
    if (budget_bits < base_bits_)
        return std::nullopt;
    const std::size_t step =
        static_cast<std::size_t>(std::min<std::uint64_t>((budget_bits - base_bits_) / unit_, steps_));
    return plan_at(step);
}

}  // namespace quantlens

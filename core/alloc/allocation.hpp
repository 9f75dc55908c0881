#pragma once
// Mixed-precision allocation as a multiple-choice knapsack: every layer takes exactly one of
// its candidate specs; minimise the summed predicted damage with the summed cost within a
// budget. Solved exactly by dynamic programming over the cost above the cheapest plan,
// discretised into at most `resolution` steps of `unit_bits()`:
// - costs are rounded up to whole units, so a plan the solver returns never exceeds its budget;
// - when every cost difference is a multiple of the unit (always when the cheapest-to-dearest
//   range fits in `resolution` bits) the result is the exact optimum; otherwise it is the exact
//   optimum of the rounded-up problem, within one unit per layer of the true one.
// One DP answers every budget, so a GUI slider re-solves instantly and the whole Pareto frontier
// (cost against predicted damage) comes out of the same table.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantlens {

struct Candidate {
    std::string spec;             // canonical QuantSpec text
    std::uint64_t cost_bits = 0;  // the layer's size with this spec, scales and zero points included
    double damage = 0;            // predicted loss of quality (≥ 0; smaller is better)
};

struct AllocationLayer {
    std::string name;
    std::vector<Candidate> candidates;  // a pinned layer has exactly one
};

struct Allocation {
    std::vector<std::size_t> choice;  // per layer, an index into its candidates
    std::uint64_t cost_bits = 0;
    double damage = 0;
};

class AllocationSolver {
public:
    // Error when a layer has no candidate or a damage is negative or not finite.
    explicit AllocationSolver(std::vector<AllocationLayer> layers, std::size_t resolution = 20000);

    // The best plan within `budget_bits`, or nothing when even the cheapest plan is larger.
    std::optional<Allocation> solve(std::uint64_t budget_bits) const;
    // Every plan no other beats on both cost and damage, cheapest first (damage falling).
    const std::vector<Allocation>& frontier() const { return frontier_; }

    const std::vector<AllocationLayer>& layers() const { return layers_; }
    std::uint64_t cheapest_bits() const { return base_bits_; }
    std::uint64_t dearest_bits() const;
    std::uint64_t unit_bits() const { return unit_; }

private:
    Allocation plan_at(std::size_t step) const;  // backtrack from the DP's last row

    std::vector<AllocationLayer> layers_;
    std::uint64_t base_bits_ = 0, unit_ = 1;
    std::size_t steps_ = 0;  // DP columns: 0 … steps_ units above the cheapest plan
    std::vector<std::vector<std::size_t>>
        units_;                        // per layer and candidate: rounded-up cost above the layer's cheapest
    std::vector<double> best_;         // last DP row: least damage within each step
    std::vector<std::uint16_t> pick_;  // [layer][step]: the candidate taken
    std::vector<Allocation> frontier_;
};

}  // namespace quantlens

#include <catch2/catch.hpp>

#include <random>

#include "alloc/allocation.hpp"
#include "util/error.hpp"

using namespace quantlens;

namespace {

std::vector<AllocationLayer> random_instance(std::mt19937& rng, std::size_t layers, std::size_t choices,
                                             std::uint64_t max_cost) {
    std::uniform_int_distribution<std::uint64_t> cost(1, max_cost);
    std::uniform_real_distribution<double> damage(0.0, 10.0);
    std::vector<AllocationLayer> out;
    for (std::size_t l = 0; l < layers; ++l) {
        AllocationLayer layer{"layer" + std::to_string(l), {}};
        const std::size_t count = 1 + rng() % choices;  // some layers pinned to a single spec
        for (std::size_t k = 0; k < count; ++k)
            layer.candidates.push_back({"spec" + std::to_string(k), cost(rng), damage(rng)});
        out.push_back(std::move(layer));
    }
    return out;
}

// Least damage of any plan within the budget, by enumerating every combination.
std::optional<double> brute_force(const std::vector<AllocationLayer>& layers, std::uint64_t budget) {
    std::optional<double> best;
    std::vector<std::size_t> choice(layers.size(), 0);
    for (;;) {
        std::uint64_t cost = 0;
        double damage = 0;
        for (std::size_t l = 0; l < layers.size(); ++l) {
            cost += layers[l].candidates[choice[l]].cost_bits;
            damage += layers[l].candidates[choice[l]].damage;
        }
        if (cost <= budget && (!best || damage < *best))
            best = damage;
        std::size_t l = 0;
        while (l < layers.size() && ++choice[l] == layers[l].candidates.size())
            choice[l++] = 0;
        if (l == layers.size())
            return best;
    }
}

}  // namespace

TEST_CASE("the knapsack allocation is optimal against brute force on small instances") {
    std::mt19937 rng(17);
    for (int instance = 0; instance < 60; ++instance) {
        const auto layers = random_instance(rng, 1 + rng() % 6, 4, 40);
        const AllocationSolver solver(layers);
        REQUIRE(solver.unit_bits() == 1);  // the cost range fits the resolution: exact
        for (std::uint64_t budget = 0; budget <= solver.dearest_bits() + 2; ++budget) {
            INFO("instance " << instance << " budget " << budget);
            const auto expected = brute_force(layers, budget);
            const auto plan = solver.solve(budget);
            REQUIRE(plan.has_value() == expected.has_value());
            if (!plan)
                continue;
            CHECK(plan->cost_bits <= budget);
            CHECK(plan->damage == Approx(*expected).margin(1e-12));
        }
    }
}

TEST_CASE("the frontier holds exactly the efficient plans, cheapest first") {
    std::mt19937 rng(5);
    for (int instance = 0; instance < 30; ++instance) {
        const auto layers = random_instance(rng, 1 + rng() % 5, 4, 30);
        const AllocationSolver solver(layers);
        const auto& frontier = solver.frontier();
        REQUIRE_FALSE(frontier.empty());
        CHECK(frontier.front().cost_bits == solver.cheapest_bits());
        for (std::size_t i = 0; i < frontier.size(); ++i) {
            CHECK(frontier[i].damage ==
                  Approx(*brute_force(layers, frontier[i].cost_bits)).margin(1e-12));  // optimal at its cost
            if (i > 0) {
                CHECK(frontier[i].cost_bits > frontier[i - 1].cost_bits);
                CHECK(frontier[i].damage < frontier[i - 1].damage);
                // nothing cheaper reaches this damage
                CHECK(*brute_force(layers, frontier[i].cost_bits - 1) > frontier[i].damage);
            }
        }
        CHECK(frontier.back().damage == Approx(*brute_force(layers, solver.dearest_bits())).margin(1e-12));
    }
}

TEST_CASE("with coarse units a plan never exceeds its budget and stays near the optimum") {
    std::mt19937 rng(23);
    for (int instance = 0; instance < 20; ++instance) {
        const auto layers = random_instance(rng, 6, 4, 100000);
        const AllocationSolver solver(layers, 50);  // far fewer steps than bits
        REQUIRE(solver.unit_bits() > 1);
        for (int trial = 0; trial < 20; ++trial) {
            const std::uint64_t budget =
                solver.cheapest_bits() + rng() % (solver.dearest_bits() - solver.cheapest_bits() + 1);
            const auto plan = solver.solve(budget);
            REQUIRE(plan.has_value());
            CHECK(plan->cost_bits <= budget);
            // rounding up costs at most one unit per layer: the true optimum with that much less budget is no
            // better
            const auto tighter =
                brute_force(layers, budget > 6 * solver.unit_bits() ? budget - 6 * solver.unit_bits() : 0);
            if (tighter)
                CHECK(plan->damage <= *tighter + 1e-12);
        }
    }
}

TEST_CASE("allocation input errors name the layer") {
    const std::vector<AllocationLayer> none{AllocationLayer{"blk.0", {}}};
    CHECK_THROWS_WITH(AllocationSolver(none), Catch::Contains("blk.0") && Catch::Contains("no candidate"));
    const std::vector<AllocationLayer> bad{AllocationLayer{"blk.1", {Candidate{"q4_0", 10, NAN}}}};
    CHECK_THROWS_WITH(AllocationSolver(bad), Catch::Contains("blk.1") && Catch::Contains("q4_0"));
    const AllocationSolver empty(std::vector<AllocationLayer>{});
    CHECK(empty.solve(0).has_value());
}

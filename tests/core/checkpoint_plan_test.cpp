// A published checkpoint against QuantLens's plan at the same size: the plan never spends more
// bits than the checkpoint, its figures are the quantizer's, its totals are its rows', and a plan
// offered exactly the checkpoint's own round-to-nearest format finds the checkpoint's error.
#include <catch2/catch.hpp>

#include <cmath>

#include "alloc/checkpoint_plan.hpp"
#include "model/model.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct Pair {
    Model base, other;
    ModelDiff diff;
};

Pair open_pair(const std::string& checkpoint) {
    auto base = Model::open(data_path("checkpoints/base"));
    auto other = Model::open(data_path("checkpoints/" + checkpoint));
    auto diff = diff_models(base, other);
    return {std::move(base), std::move(other), std::move(diff)};
}

std::uint64_t elements(const std::vector<std::int64_t>& shape) {
    std::uint64_t n = 1;
    for (const auto extent : shape)
        n *= static_cast<std::uint64_t>(extent);
    return n;
}

}  // namespace

TEST_CASE("a plan at a checkpoint's size spends no more bits than the checkpoint") {
    for (const char* checkpoint : {"gptq-4bit-act-order", "gptq-3bit", "mlx-4bit", "bnb-nf4-nested",
                                   "fp8-block", "bnb-int8", "awq-gemv"}) {
        INFO(checkpoint);
        const auto pair = open_pair(checkpoint);
        const auto plan = plan_at_checkpoint_size(pair.base, pair.other, pair.diff);
        REQUIRE(plan.layers.size() == 3);  // q_proj, o_proj, down_proj; the F16 norm is not planned
        REQUIRE(plan.not_planned.size() == 1);
        CHECK(plan.not_planned[0].find("input_layernorm") != std::string::npos);
        CHECK(plan.plan_bits <= plan.checkpoint_bits);
        CHECK(plan.plan_bits > 0);
        // the totals are the rows' own figures, weighted by their sizes
        double plan_noise = 0, checkpoint_noise = 0, bits = 0;
        std::uint64_t count = 0;
        for (const auto& row : plan.layers) {
            const auto n =
                static_cast<double>(elements(pair.base.read_weights(pair.base.layer(row.layer)).shape));
            plan_noise += row.plan.mse * n;
            checkpoint_noise += row.checkpoint.mse * n;
            bits += row.plan_bits * n;
            count += static_cast<std::uint64_t>(n);
        }
        CHECK(count == plan.parameters);
        CHECK(plan.plan_mse == Approx(plan_noise / static_cast<double>(count)).epsilon(1e-12));
        CHECK(plan.checkpoint_mse == Approx(checkpoint_noise / static_cast<double>(count)).epsilon(1e-12));
        CHECK(plan.plan_bits == Approx(bits / static_cast<double>(count)).epsilon(1e-12));
    }
}

TEST_CASE("the plan's figures for a layer are the quantizer's for the spec it chose") {
    const auto pair = open_pair("gptq-4bit-act-order");
    const auto plan = plan_at_checkpoint_size(pair.base, pair.other, pair.diff);
    for (const auto& row : plan.layers) {
        INFO(row.layer);
        REQUIRE(row.specs.size() == 1);
        const auto weights = pair.base.read_weights(pair.base.layer(row.layer));
        const auto result =
            quantize(as_matrix(weights.values(), weights.shape), QuantSpec::parse(row.specs[0]));
        CHECK(row.plan.mse == Approx(result.metrics.mse).epsilon(1e-9));
        CHECK(row.plan.max_abs_error == Approx(result.metrics.max_abs_error).epsilon(1e-9));
        CHECK(row.plan_bits == Approx(result.metrics.bits_per_weight).epsilon(1e-12));
    }
}

TEST_CASE("the candidates are the checkpoint's own format at 2 to 8 bits with its scale type") {
    const auto gptq = open_pair("gptq-4bit-act-order");  // act order: the family of its group size
    const auto family = checkpoint_family(gptq.other, gptq.diff);
    REQUIRE(family.size() == 7);
    CHECK(family.front().to_string() == "int2:g32:asym:scale=f16");
    CHECK(family.back().to_string() == "int8:g32:asym:scale=f16");
    const auto nf4 = open_pair("bnb-nf4-nested");
    const auto nf4_family = checkpoint_family(nf4.other, nf4.diff);
    CHECK(nf4_family.front().to_string() == "nf4:g64");
    CHECK(nf4_family.size() > 1);  // with the default candidates: one spec alone is no choice
}

TEST_CASE("offered the checkpoint's own round-to-nearest format the plan finds the checkpoint's error") {
    // AWQ GEMM as the generator writes it: round to nearest, int4 in groups of 32 with f16 scales.
    const auto pair = open_pair("awq-gemm");
    const auto plan = plan_at_checkpoint_size(pair.base, pair.other, pair.diff,
                                              {QuantSpec::parse("int4:g32:asym:scale=f16")});
    CHECK(plan.candidates_from == "the user");
    for (const auto& row : plan.layers) {
        INFO(row.layer);
        CHECK(row.specs == std::vector<std::string>{"int4:g32:asym:scale=f16"});
        CHECK(row.plan_bits == Approx(row.checkpoint_bits).epsilon(1e-12));
        // the checkpoint's values are f16-rounded, the plan's float32: a few thousandths of a dB apart
        CHECK(std::abs(row.plan.sqnr_db - row.checkpoint.sqnr_db) < 0.01);
    }
}

TEST_CASE("a plan at a size below every candidate's says so and one with nothing quantized is refused") {
    const auto pair = open_pair("mlx-4bit");  // 5 bits per weight
    REQUIRE_THROWS_WITH(
        plan_at_checkpoint_size(pair.base, pair.other, pair.diff, {QuantSpec::parse("int8:channel:sym")}),
        Catch::Contains("too small"));
    const auto base = Model::open(data_path("checkpoints/base"));
    const auto same = diff_models(base, base);
    REQUIRE_THROWS_WITH(plan_at_checkpoint_size(base, base, same),
                        Catch::Contains("none is stored quantized"));
}

TEST_CASE("the plan comparison writes JSON CSV and a table") {
    const auto pair = open_pair("mlx-4bit");
    const auto plan = plan_at_checkpoint_size(pair.base, pair.other, pair.diff);
    const auto json = to_json(plan);
    CHECK(json["layers"].size() == 3);
    CHECK(json["total"]["plan"]["bits_per_weight"].get<double>() <=
          json["total"]["checkpoint"]["bits_per_weight"].get<double>());
    const auto csv = to_csv(plan);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 5);  // header, three layers, total
    CHECK(to_table(plan).find("GAIN dB") != std::string::npos);
}

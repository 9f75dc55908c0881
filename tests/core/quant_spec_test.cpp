#include <catch2/catch.hpp>

#include "quant/quant_spec.hpp"
#include "util/error.hpp"

using namespace quantlens;
using Catch::Contains;

TEST_CASE("spec text round-trips for every format") {
    const std::vector<std::string> canonical = {"int4:g128:asym:clip=mse",
                                                "int8:channel:sym",
                                                "fp8_e4m3:tensor",
                                                "nf4:g64",
                                                "mxfp4",
                                                "q4_0",
                                                "ternary:tensor",
                                                "log2:4:channel",
                                                "f16",
                                                "int2:tensor:sym",
                                                "int3:g32:asym:clip=p99.9",
                                                "int8:channel:sym:full",
                                                "int4:g128:sym:scale=f16:round=stochastic:seed=7",
                                                "int4:g128:asym:round=gptq:actorder:damp=0.05",
                                                "fp8_e5m2:channel:scale=e8m0",
                                                "fp6_e3m2:g32",
                                                "fp6_e2m3:tensor",
                                                "fp4_e2m1:g16:clip=mse",
                                                "mxfp8_e4m3",
                                                "mxfp8_e5m2",
                                                "mxfp6_e3m2",
                                                "mxfp6_e2m3",
                                                "mxint8",
                                                "nvfp4",
                                                "q8_0",
                                                "q4_1",
                                                "q5_0",
                                                "q5_1",
                                                "binary:tensor",
                                                "bf16",
                                                "f32",
                                                "int4:channel:sym:rot=hadamard:rotseed=3",
                                                "int8:channel:sym:smooth=0.5",
                                                "nf4:g64:scale=bf16",
                                                "log2:2:tensor"};
    for (const auto& text : canonical) {
        INFO(text);
        auto spec = QuantSpec::parse(text);
        CHECK(spec.to_string() == text);
        CHECK(QuantSpec::parse(spec.to_string()) == spec);
    }
    for (const auto& name : quant_format_names()) {
        INFO(name);
        auto spec = QuantSpec::parse(name);
        CHECK(QuantSpec::parse(spec.to_string()) == spec);
    }
}

TEST_CASE("spec parsing fills defaults and accepts options in any order") {
    CHECK(QuantSpec::parse("int4").to_string() == "int4:channel:sym");
    CHECK(QuantSpec::parse("int4:asym:g128").to_string() == "int4:g128:asym");
    CHECK(QuantSpec::parse("nf4").group_size == 64);
    CHECK(QuantSpec::parse("mxfp4").group_size == 32);
    CHECK(QuantSpec::parse("nvfp4").group_size == 16);
    CHECK(QuantSpec::parse("fp4").format == QuantFormat::Fp4E2M1);
    CHECK(QuantSpec::parse("int4:g128:asym").element_bits() == 4);
    CHECK(QuantSpec::parse("mxfp4").scale_bits() == 8);
}

TEST_CASE("invalid specs say which part is wrong and what is allowed") {
    CHECK_THROWS_WITH(QuantSpec::parse("int9"), Contains("\"int9\"") && Contains("int2 to int8"));
    CHECK_THROWS_WITH(QuantSpec::parse("float7"), Contains("unknown format") && Contains("nf4"));
    CHECK_THROWS_WITH(QuantSpec::parse("int4:g0"), Contains("\"g0\"") && Contains("positive integer"));
    CHECK_THROWS_WITH(QuantSpec::parse("int4:clip=fancy"),
                      Contains("clip=fancy") && Contains("minmax, mse or p<percentile>"));
    CHECK_THROWS_WITH(QuantSpec::parse("q4_0:g128"),
                      Contains("\"g128\"") && Contains("allowed: rot=hadamard"));
    CHECK_THROWS_WITH(QuantSpec::parse("fp8_e4m3:asym"),
                      Contains("\"asym\"") && Contains("not an option of fp8_e4m3"));
    CHECK_THROWS_WITH(QuantSpec::parse("f16:tensor"), Contains("no options"));
    CHECK_THROWS_WITH(QuantSpec::parse("int4:asym:full"), Contains("full range applies to symmetric"));
    CHECK_THROWS_WITH(QuantSpec::parse("int4:actorder"), Contains("round=gptq only"));
    CHECK_THROWS_WITH(QuantSpec::parse("int4::sym"), Contains("empty option"));
    CHECK_THROWS_WITH(QuantSpec::parse("log2:9"), Contains("2 to 8 bits"));
    CHECK_THROWS_AS(QuantSpec::parse(""), Error);
}

TEST_CASE("numbers in spec text print exactly so the canonical form round-trips") {
    // Found by fuzzing: printed with 12 significant digits, this alpha came back different.
    auto spec = QuantSpec::parse(
        "int3:g32:asym:round=gptq:actorder:damp=0.05:rot=hadamard:rotseed=2:smooth=0.111111111111111115");
    CHECK(QuantSpec::parse(spec.to_string()) == spec);
    CHECK(QuantSpec::parse("int4:clip=p99.98765432101234").to_string() ==
          "int4:channel:sym:clip=p99.98765432101234");
    CHECK(QuantSpec::parse("int8:smooth=0.5").to_string() == "int8:channel:sym:smooth=0.5");
}

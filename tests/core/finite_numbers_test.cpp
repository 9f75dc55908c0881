// Finite, exact numbers for every quantizer on adversarial groups (issue "Right answers" part 1):
// all-zero groups, groups of subnormals only (a row of zeros but one 1e-39, as a real OCR
// recognizer has), ±0, tiny normals, values near the float32 maximum. Each spec either gives
// finite values and metrics, exact zeros for zero inputs and an error no larger than the
// group's own range, or (a scale beyond what its storage holds) refuses with NonFiniteResult.
// core.scalar_paths runs the same cases on the scalar kernels.
#include <catch2/catch.hpp>

#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "quant/quantizer.hpp"

using namespace quantlens;

namespace {

struct Case {
    const char* name;
    std::vector<float> row;  // 64 values
    bool huge;               // values near FLT_MAX: half-precision scales overflow
};

std::vector<Case> adversarial_rows() {
    std::vector<Case> cases;
    auto row = [](float fill) {
        return std::vector<float>(64, fill);
    };
    cases.push_back({"all zero", row(0.0f), false});
    auto negative_zero = row(-0.0f);
    negative_zero[3] = 0.0f;
    cases.push_back({"+0 and -0", negative_zero, false});
    auto one_subnormal = row(0.0f);
    one_subnormal[0] = 1e-39f;
    cases.push_back({"zeros but one 1e-39", one_subnormal, false});
    auto subnormals = row(0.0f);
    for (std::size_t i = 0; i < subnormals.size(); ++i)
        subnormals[i] = (i % 2 ? -1.0f : 1.0f) * std::ldexp(1.0f, -140 + static_cast<int>(i % 13));
    cases.push_back({"mixed-sign subnormals", subnormals, false});
    auto denorm = row(std::numeric_limits<float>::denorm_min());
    cases.push_back({"the smallest subnormal", denorm, false});
    auto tiny = row(0.0f);
    for (std::size_t i = 0; i < tiny.size(); ++i)
        tiny[i] = FLT_MIN * static_cast<float>(i % 5) * (i % 3 ? 1.0f : -1.0f);
    cases.push_back({"tiny normals", tiny, false});
    auto negative = row(-1e-39f);
    cases.push_back({"one negative subnormal everywhere", negative, false});
    auto huge = row(0.0f);
    for (std::size_t i = 0; i < huge.size(); ++i)
        huge[i] = (i % 2 ? -1.0f : 1.0f) * FLT_MAX * (0.25f + 0.75f * static_cast<float>(i % 7) / 6);
    cases.push_back({"values near FLT_MAX of both signs", huge, true});
    auto mixed = row(1e-39f);
    mixed[7] = 3e38f;
    cases.push_back({"one huge value among subnormals", mixed, true});
    return cases;
}

const char* const kSpecs[] = {
    "int8:channel:sym",
    "int8:tensor:sym",
    "int4:g32:asym",
    "int4:g16:sym",
    "int4:g32:sym:full",
    "int2:channel:asym",
    "int4:g32:asym:clip=mse",
    "int8:channel:sym:clip=mse",
    "int4:g32:asym:clip=p99",
    "int4:g32:sym:scale=f16",
    "int4:g32:asym:scale=bf16",
    "int8:g32:sym:scale=e8m0",
    "int4:g32:asym:round=stochastic",
    "fp8_e4m3:channel",
    "fp8_e5m2:tensor",
    "fp6_e3m2:g32",
    "fp6_e2m3:g32",
    "fp4_e2m1:g32",
    "fp8_e4m3:channel:clip=mse",
    "nf4:g64",
    "nf4:g32:scale=f16",
    "mxfp4",
    "mxfp8_e4m3",
    "mxfp6_e2m3",
    "mxint8",
    "nvfp4",
    "q8_0",
    "q4_0",
    "q4_1",
    "q5_0",
    "q5_1",
    "log2:4",
    "ternary",
    "binary",
    "f16",
    "bf16",
    "f32",
    "int4:g32:asym:rot=hadamard",
};

}  // namespace

TEST_CASE("every quantizer gives finite values, exact zeros and a bounded error on adversarial groups") {
    for (const auto& c : adversarial_rows()) {
        // Four rows: the adversarial one, then ordinary ones, so per-tensor scales see both.
        std::vector<float> values(c.row);
        for (int r = 1; r < 4; ++r)
            for (int k = 0; k < 64; ++k)
                values.push_back(c.huge ? c.row[static_cast<std::size_t>(k)] : 0.0f);
        for (const char* text : kSpecs) {
            INFO(c.name << " under " << text);
            const auto spec = QuantSpec::parse(text);
            QuantResult result;
            try {
                result = quantize(as_matrix(values, {4, 64}), spec);
            } catch (const NonFiniteResult& error) {
                CHECK(c.huge);  // only a scale beyond its storage may refuse
                continue;
            }
            REQUIRE(result.dequantized.size() == values.size());
            double range = 0;
            for (float v : values)
                range = std::max(range, std::fabs(static_cast<double>(v)));
            for (std::size_t i = 0; i < values.size(); ++i) {
                INFO("value " << i << " = " << values[i] << " -> " << result.dequantized[i]);
                REQUIRE(std::isfinite(result.dequantized[i]));
                // binary has no zero level: a zero becomes +scale (but a group of zeros is exact)
                const bool zero_level = spec.format != QuantFormat::Binary || range == 0;
                if (values[i] == 0 && spec.rotation == Rotation::None && zero_level)
                    CHECK(result.dequantized[i] == 0);
                // scales are at least 2^-126 (FLT_MIN): a subnormal may move by that much
                CHECK(std::fabs(static_cast<double>(result.dequantized[i]) - values[i]) <=
                      2.01 * range + FLT_MIN);
            }
            CHECK(std::isfinite(result.metrics.mse));
            CHECK(std::isfinite(result.metrics.max_abs_error));
            CHECK(std::isfinite(result.metrics.cosine));
            CHECK(!std::isnan(result.metrics.sqnr_db));  // +inf only when lossless
            CHECK(std::isfinite(result.metrics.bits_per_weight));
        }
    }
}

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>

#include "tensor/convert.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {
bool same_float(float a, float b) {
    return (std::isnan(a) && std::isnan(b)) ||
           std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}
}  // namespace

TEST_CASE("F16 decodes every bit pattern exactly as PyTorch does") {
    auto golden = golden_values<float>("f16_to_f32.npy");
    REQUIRE(golden.size() == 65536);
    std::vector<std::uint16_t> patterns(65536);
    for (std::uint32_t i = 0; i < 65536; ++i)
        patterns[i] = static_cast<std::uint16_t>(i);
    std::vector<float> bulk(65536);
    decode_to_f32(DType::F16, as_bytes_of(patterns), bulk);  // the SIMD path
    int mismatches = 0;
    for (std::uint32_t i = 0; i < 65536; ++i) {
        if (!same_float(f16_to_f32(static_cast<std::uint16_t>(i)), golden[i]))
            ++mismatches;
        if (!same_float(bulk[i], golden[i]))
            ++mismatches;
    }
    CHECK(mismatches == 0);
    CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
    CHECK(std::isinf(f16_to_f32(0x7C00)));
}

TEST_CASE("BF16 decodes every bit pattern exactly as PyTorch does") {
    auto golden = golden_values<float>("bf16_to_f32.npy");
    std::vector<std::uint16_t> patterns(65536);
    for (std::uint32_t i = 0; i < 65536; ++i)
        patterns[i] = static_cast<std::uint16_t>(i);
    std::vector<float> bulk(65536);
    decode_to_f32(DType::BF16, as_bytes_of(patterns), bulk);
    int mismatches = 0;
    for (std::uint32_t i = 0; i < 65536; ++i)
        if (!same_float(bf16_to_f32(static_cast<std::uint16_t>(i)), golden[i]) ||
            !same_float(bulk[i], golden[i]))
            ++mismatches;
    CHECK(mismatches == 0);
}

TEST_CASE("float32 rounds to F16 and BF16 to nearest even, as NumPy and PyTorch do") {
    auto values = golden_values<float>("f32_values.npy");
    auto f16 = golden_values<std::uint16_t>("f32_to_f16_bits.npy");
    auto bf16 = golden_values<std::uint16_t>("f32_to_bf16_bits.npy");
    REQUIRE(values.size() == f16.size());
    int f16_wrong = 0, bf16_wrong = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (f32_to_f16(values[i]) != f16[i])
            ++f16_wrong;
        if (f32_to_bf16(values[i]) != bf16[i])
            ++bf16_wrong;
    }
    CHECK(f16_wrong == 0);
    CHECK(bf16_wrong == 0);

    // round_through's batch path (F16C where the CPU has it) lands on the same values.
    auto through_f16 = values, through_bf16 = values;
    round_through(DType::F16, through_f16);
    round_through(DType::BF16, through_bf16);
    int f16_batch_wrong = 0, bf16_batch_wrong = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!same_float(through_f16[i], f16_to_f32(f16[i])))
            ++f16_batch_wrong;
        if (!same_float(through_bf16[i], bf16_to_f32(bf16[i])))
            ++bf16_batch_wrong;
    }
    CHECK(f16_batch_wrong == 0);
    CHECK(bf16_batch_wrong == 0);
}

TEST_CASE("FP8 E4M3FN matches the OCP table: no inf, 448 max, 2^-9 min subnormal") {
    CHECK(f8_e4m3_to_f32(0x7E) == 448.0f);
    CHECK(f8_e4m3_to_f32(0x01) == std::ldexp(1.0f, -9));
    CHECK(f8_e4m3_to_f32(0x08) == std::ldexp(1.0f, -6));  // min normal
    CHECK(std::isnan(f8_e4m3_to_f32(0x7F)));
    CHECK(std::isnan(f8_e4m3_to_f32(0xFF)));
    CHECK(f8_e4m3_to_f32(0x78) == 256.0f);   // S.1111.000 is a number, not inf
    CHECK(f32_to_f8_e4m3(1000.0f) == 0x7E);  // saturates
    CHECK(f32_to_f8_e4m3(-1000.0f) == 0xFE);
    CHECK(f32_to_f8_e4m3(std::ldexp(1.0f, -10)) == 0x00);  // half of min subnormal: tie to even (0)
    CHECK(f32_to_f8_e4m3(std::ldexp(3.0f, -10)) == 0x02);  // 1.5 * 2^-9: tie to even (2)
    for (int code = 0; code < 256; ++code) {
        if ((code & 0x7F) == 0x7F)
            continue;
        INFO("code " << code);
        CHECK(f32_to_f8_e4m3(f8_e4m3_to_f32(static_cast<std::uint8_t>(code))) == code);
    }
}

TEST_CASE("FP8 E5M2 matches the OCP table: IEEE inf/NaN, 57344 max, 2^-16 min subnormal") {
    CHECK(f8_e5m2_to_f32(0x7B) == 57344.0f);
    CHECK(f8_e5m2_to_f32(0x01) == std::ldexp(1.0f, -16));
    CHECK(std::isinf(f8_e5m2_to_f32(0x7C)));
    CHECK(std::isnan(f8_e5m2_to_f32(0x7D)));
    CHECK(f32_to_f8_e5m2(1e6f) == 0x7C);
    for (int code = 0; code < 256; ++code) {
        if ((code & 0x7F) > 0x7C)
            continue;
        CHECK(f32_to_f8_e5m2(f8_e5m2_to_f32(static_cast<std::uint8_t>(code))) == code);
    }
}

TEST_CASE("integer and bool dtypes decode to their values") {
    std::vector<std::int8_t> i8{-128, -1, 0, 127};
    std::vector<float> out(4);
    decode_to_f32(DType::I8, as_bytes_of(i8), out);
    CHECK(out == std::vector<float>{-128, -1, 0, 127});
    std::vector<std::uint8_t> flags{0, 1, 2, 0};
    decode_to_f32(DType::BOOL, as_bytes_of(flags), out);
    CHECK(out == std::vector<float>{0, 1, 1, 0});
    std::vector<std::int64_t> big{-(1ll << 40), 3};
    std::vector<double> wide(2);
    decode_to_f64(DType::I64, as_bytes_of(big), wide);
    CHECK(wide[0] == -1099511627776.0);
}

TEST_CASE("storage size rejects overflow and partial blocks") {
    CHECK(storage_bytes(DType::F32, 10) == 40u);
    CHECK(storage_bytes(DType::Q4_0, 64) == 36u);
    CHECK_FALSE(storage_bytes(DType::Q4_0, 33).has_value());
    CHECK_FALSE(storage_bytes(DType::F64, 1ull << 62).has_value());
    CHECK_FALSE(element_count({1ll << 40, 1ll << 40}).has_value());
    CHECK_FALSE(element_count({-1}).has_value());
}

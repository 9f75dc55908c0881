#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>

#include "quant/element_grid.hpp"
#include "quant/ggml_quantizer.hpp"
#include "quant/quantizer.hpp"
#include "tensor/convert.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {
QuantResult run(const std::vector<float>& values, std::int64_t rows, const std::string& spec) {
    return quantize({values, rows, static_cast<std::int64_t>(values.size()) / rows}, QuantSpec::parse(spec));
}
}  // namespace

TEST_CASE("minifloat grids match docs/formats.md §2: max normal, min normal, min subnormal") {
    struct Row {
        QuantFormat format;
        float max, min_normal, min_subnormal;
        std::size_t levels;
    };
    for (auto row :
         {Row{QuantFormat::Fp8E4M3, 448, std::ldexp(1.0f, -6), std::ldexp(1.0f, -9), 253},
          Row{QuantFormat::Fp8E5M2, 57344, std::ldexp(1.0f, -14), std::ldexp(1.0f, -16), 247},
          Row{QuantFormat::Fp6E3M2, 28, 0.25f, 0.0625f, 63}, Row{QuantFormat::Fp6E2M3, 7.5f, 1, 0.125f, 63},
          Row{QuantFormat::Fp4E2M1, 6, 1, 0.5f, 15}}) {
        INFO(static_cast<int>(row.format));
        auto grid = minifloat_grid(row.format);
        auto levels = grid.levels();
        CHECK(levels.back() == row.max);
        CHECK(levels.size() == row.levels);  // 2^bits codes minus −0 (and E4M3's NaN, E5M2's inf/NaN)
        CHECK(*std::upper_bound(levels.begin(), levels.end(), 0.0f) == row.min_subnormal);
        CHECK(grid.nearest(row.max * 10) == row.max);  // saturates
        CHECK(grid.nearest(-row.max * 10) == -row.max);
        CHECK(std::find(levels.begin(), levels.end(), row.min_normal) != levels.end());
    }
    auto fp4 = minifloat_grid(QuantFormat::Fp4E2M1).levels();
    CHECK(std::vector<float>(fp4.begin() + 7, fp4.end()) == std::vector<float>{0, 0.5f, 1, 1.5f, 2, 3, 4, 6});
    auto e2m1 = minifloat_grid(QuantFormat::Fp4E2M1);
    CHECK(e2m1.nearest(5.0f) == 4.0f);   // tie between 4 (even mantissa) and 6
    CHECK(e2m1.nearest(2.5f) == 2.0f);   // tie between 2 and 3
    CHECK(e2m1.nearest(0.25f) == 0.0f);  // tie between 0 and 0.5
    CHECK(e2m1.nearest(0.75f) == 1.0f);  // tie between 0.5 (odd) and 1 (even)
}

TEST_CASE("minifloat codes are the format's bit patterns") {
    auto e4m3 = minifloat_grid(QuantFormat::Fp8E4M3);
    for (float level : e4m3.levels())
        CHECK(e4m3.code(level) == f32_to_f8_e4m3(level));
    auto e5m2 = minifloat_grid(QuantFormat::Fp8E5M2);
    for (float level : e5m2.levels())
        CHECK(e5m2.code(level) == f32_to_f8_e5m2(level));
}

TEST_CASE("NF4 uses the bitsandbytes table with decisions at midpoints") {
    const auto& grid = nf4_grid();
    REQUIRE(grid.table.size() == 16);
    CHECK(grid.table[0] == -1.0f);
    CHECK(grid.table[7] == 0.0f);
    CHECK(grid.table[8] == 0.07958029955625534f);
    CHECK(grid.nearest(0.0397f) == 0.0f);
    CHECK(grid.nearest(0.0398f) == 0.07958029955625534f);
    auto r = run({0.5f, -1.0f, 0.2f, 0.0f}, 1, "nf4:g4");
    CHECK(r.scales == std::vector<float>{1.0f});
    CHECK(r.dequantized[0] == 0.44070982933044434f);           // 0.5 is closer to 0.4407 than to 0.5626
    CHECK(r.codes == std::vector<std::int32_t>{12, 0, 9, 7});  // 0.2 is below the 0.1609/0.2461 midpoint
}

TEST_CASE("integer quantization follows docs/formats.md §1") {
    SECTION("symmetric restricted range") {
        auto r = run({-7.0f, 4.5f, 0.5f, 1.75f}, 1, "int4:tensor:sym");
        CHECK(r.scales[0] == 1.0f);
        CHECK(r.codes == std::vector<std::int32_t>{-7, 4, 0, 2});  // 4.5 and 0.5 are ties: to even
    }
    SECTION("symmetric full range uses absmax / (2^(b-1) - 0.5)") {
        auto r = run({-7.5f, 3.5f}, 1, "int4:tensor:sym:full");
        CHECK(r.scales[0] == 1.0f);
        CHECK(r.codes == std::vector<std::int32_t>{-8, 4});  // -7.5 and 3.5 are ties: to even
    }
    SECTION("asymmetric: range includes zero, zero point rounds") {
        auto r = run({0.5f, 1.0f, 2.0f, 3.5f}, 1, "int2:tensor:asym");
        // lo = min(0.5, 0) = 0, hi = 3.5, s = 3.5/3, z = 0
        CHECK(r.scales[0] == Approx(3.5f / 3));
        CHECK(r.zero_points[0] == 0);
        CHECK(r.codes == std::vector<std::int32_t>{0, 1, 2, 3});
        auto s = run({-1.0f, 0.0f, 2.0f, 0.5f}, 1, "int2:tensor:asym");
        CHECK(s.scales[0] == Approx(1.0f));
        CHECK(s.zero_points[0] == 1);
        CHECK(s.dequantized == std::vector<float>{-1, 0, 2, 0});  // round(0.5) = 0 (even), + z = 1 -> value 0
    }
    SECTION("an all-zero group is exact") {
        auto r = run(std::vector<float>(8, 0.0f), 2, "int4:channel:asym");
        CHECK(r.metrics.mse == 0);
    }
    SECTION("groups: a ragged last group gets its own scale") {
        std::vector<float> row{1, 2, 3, 4, 5, 6, 7, 8, 9, 100};
        auto r = run(row, 1, "int8:g4:sym");
        REQUIRE(r.scales.size() == 3);
        CHECK(r.scales[0] == Approx(4.0f / 127));
        CHECK(r.scales[1] == Approx(8.0f / 127));
        CHECK(r.scales[2] == Approx(100.0f / 127));
    }
}

TEST_CASE("scale storage rounds scales as stored and counts their bits") {
    std::vector<float> values(256);
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = std::sin(static_cast<float>(i) * 0.37f) * 0.013f;
    auto e8m0 = run(values, 2, "int4:g128:sym:scale=e8m0");
    for (float scale : e8m0.scales)
        CHECK(std::ldexp(1.0f, std::ilogb(scale)) == scale);
    auto f16 = run(values, 2, "int4:g128:sym:scale=f16");
    for (float scale : f16.scales)
        CHECK(f16_to_f32(f32_to_f16(scale)) == scale);
    CHECK(f16.metrics.bits_per_weight == Approx(4 + 16.0 / 128));
    CHECK(run(values, 2, "int4:g128:asym").metrics.bits_per_weight == Approx(4 + (32.0 + 4) / 128));
    CHECK(run(values, 2, "nf4:g64").metrics.bits_per_weight == Approx(4.5));
}

TEST_CASE("MX blocks share a power-of-two E8M0 scale from floor(log2 amax) - emax (OCP MX v1.0 §6)") {
    std::vector<float> block(32, 0.0f);
    block[0] = 5.0f;
    block[1] = 0.3f;
    auto mxfp4 = run(block, 1, "mxfp4");
    CHECK(mxfp4.scales == std::vector<float>{1.0f});  // floor(log2 5) - 2 = 0
    CHECK(mxfp4.dequantized[0] == 4.0f);              // 5 ties between 4 and 6: even mantissa
    CHECK(mxfp4.dequantized[1] == 0.5f);
    CHECK(mxfp4.metrics.bits_per_weight == Approx(4.25));
    auto mxfp8 = run(block, 1, "mxfp8_e4m3");
    CHECK(mxfp8.scales == std::vector<float>{std::ldexp(1.0f, -6)});  // 2 - 8
    auto mxint8 = run(block, 1, "mxint8");
    CHECK(mxint8.scales == std::vector<float>{4.0f});  // 2 - 0
    CHECK(mxint8.dequantized[0] == 5.0f);              // 1.25 = 80/64 exactly
    CHECK(mxint8.dequantized[1] == std::nearbyint(0.3f / 4 * 64) / 64 * 4);
    auto zeros = run(std::vector<float>(32, 0.0f), 1, "mxfp6_e3m2");
    CHECK(zeros.scales == std::vector<float>{std::ldexp(1.0f, -127)});
    CHECK(zeros.metrics.mse == 0);
}

TEST_CASE("NVFP4: E2M1 in blocks of 16 with E4M3 block scales under an FP32 tensor scale") {
    std::vector<float> values(32);
    for (std::size_t i = 0; i < 32; ++i)
        values[i] = (static_cast<float>(i) - 10.0f) * (i < 16 ? 0.1f : 1.0f);
    auto r = run(values, 1, "nvfp4");
    const float global = 21.0f / (6 * 448);
    CHECK(r.tensor_scale == Approx(global));
    REQUIRE(r.scales.size() == 2);
    CHECK(r.scales[1] == Approx(f8_e4m3_to_f32(f32_to_f8_e4m3(21.0f / 6 / global)) * global));
    CHECK(r.dequantized[31] == Approx(6 * r.scales[1]));
    CHECK(r.metrics.bits_per_weight == Approx(4 + 8.0 / 16 + 32.0 / 32));
}

TEST_CASE("ggml blocks are byte-identical to the reference algorithm's vectors") {
    auto golden = open_model_file(data_path("golden/ggml_blocks.npz"));
    auto input_data = golden->read_f32(golden->tensor("input"));
    std::vector<float> input(input_data.values().begin(), input_data.values().end());
    for (auto [name, type] : {std::pair{"q8_0", DType::Q8_0},
                              {"q4_0", DType::Q4_0},
                              {"q4_1", DType::Q4_1},
                              {"q5_0", DType::Q5_0},
                              {"q5_1", DType::Q5_1}}) {
        INFO(name);
        auto stored = golden->read(golden->tensor(name));
        auto expected = stored.bytes();
        std::vector<std::uint8_t> fast(expected.size()), reference(expected.size());
        quantize_ggml_row(type, input, fast);
        quantize_ggml_row_reference(type, input, reference);
        CHECK(std::memcmp(fast.data(), expected.data(), expected.size()) == 0);
        CHECK(std::memcmp(reference.data(), expected.data(), expected.size()) == 0);
        auto spec = std::string(name);
        auto result = run(input, static_cast<std::int64_t>(input.size() / 32), spec);
        CHECK(std::memcmp(result.blocks.data(), expected.data(), expected.size()) == 0);
    }
    CHECK_THROWS_WITH(run(std::vector<float>(40, 1.0f), 1, "q4_0"), Catch::Contains("multiple of 32"));
}

TEST_CASE("ternary uses BitNet b1.58's absmean scale, binary sign x mean|w|") {
    auto t = run({0.9f, -0.1f, 0.4f, -0.6f}, 1, "ternary");
    CHECK(t.scales[0] == Approx(0.5f));
    CHECK(t.codes == std::vector<std::int32_t>{1, 0, 1, -1});  // 0.8 -> 1, -0.2 -> 0, 0.8 -> 1, -1.2 -> -1
    auto b = run({0.9f, -0.1f, 0.4f, 0.0f}, 1, "binary");
    CHECK(b.scales[0] == Approx(0.35f));
    for (float v : b.dequantized)
        CHECK(std::fabs(v) == b.scales[0]);
    CHECK(b.dequantized[1] < 0);
    CHECK(b.dequantized[3] > 0);  // sign(0) counts as +1
}

TEST_CASE("log2 levels are zero and powers of two times a power-of-two scale") {
    auto r = run({0.9f, -0.26f, 0.01f, 0.12f}, 1, "log2:3:tensor");
    CHECK(r.scales[0] == 1.0f);  // 0.9 rounds up to 2^0
    // 3 bits: 0, ±1, ±0.5, ±0.25
    CHECK(r.dequantized == std::vector<float>{1.0f, -0.25f, 0.0f, 0.0f});
    for (float v : r.dequantized)
        CHECK((v == 0 || std::ldexp(1.0f, std::ilogb(std::fabs(v))) == std::fabs(v)));
}

TEST_CASE("f16 and bf16 casts round to nearest even; f32 is lossless") {
    std::vector<float> values{1.0f + std::ldexp(1.0f, -11), 3.14159f, -2.5e-8f};
    auto half = run(values, 1, "f16");
    CHECK(half.dequantized[0] == 1.0f);  // exact tie -> even
    CHECK(half.metrics.bits_per_weight == 16);
    auto exact = run(values, 1, "f32");
    CHECK(exact.metrics.mse == 0);
    CHECK(std::isinf(exact.metrics.sqnr_db));
}

TEST_CASE("integer fake-quantization agrees with PyTorch's observers and fake_quantize") {
    auto golden = open_model_file(data_path("golden/torch_fake_quant.npz"));
    auto weights = golden->read_f32(golden->tensor("weights"));
    std::vector<float> w(weights.values().begin(), weights.values().end());
    for (auto [key, spec] : {std::pair{"int8_channel_sym_full", "int8:channel:sym:full"},
                             {"int8_tensor_asym", "int8:tensor:asym"},
                             {"int4_channel_asym", "int4:channel:asym"}}) {
        INFO(spec);
        auto expected = golden->read_f32(golden->tensor(key));
        auto ours = run(w, 64, spec);
        double worst = 0;
        for (std::size_t i = 0; i < w.size(); ++i)
            worst =
                std::max(worst, static_cast<double>(std::fabs(ours.dequantized[i] - expected.values()[i])));
        CHECK(worst <= 1e-7);
    }
}

TEST_CASE("rows of zeros, subnormals and values below epsilon quantize exactly as PyTorch's observers") {
    // samples/generate_samples.py --only edge: PyTorch clamps scales at float32's epsilon, so
    // a row of subnormals or of values around 1e-6 quantizes to what it gives, never to NaN.
    auto golden = open_model_file(data_path("golden/torch_fake_quant_edge.npz"));
    auto weights = golden->read_f32(golden->tensor("weights"));
    std::vector<float> w(weights.values().begin(), weights.values().end());
    for (auto [key, spec] : {std::pair{"int8_channel_sym_full", "int8:channel:sym:full"},
                             {"int4_channel_asym", "int4:channel:asym"},
                             {"int8_channel_asym", "int8:channel:asym"}}) {
        INFO(spec);
        auto expected = golden->read_f32(golden->tensor(key));
        auto ours = run(w, 8, spec);
        for (std::size_t i = 0; i < w.size(); ++i) {
            // The same level; the value may differ by float rounding of the scale (PyTorch
            // multiplies by a reciprocal it computes in its own order): 1e-6 of the row's range.
            float row_max = 0;
            for (std::size_t k = i / 64 * 64; k < i / 64 * 64 + 64; ++k)
                row_max = std::max(row_max, std::fabs(w[k]));
            INFO("row " << i / 64 << " column " << i % 64 << ": " << w[i] << " -> " << ours.dequantized[i]
                        << " against " << expected.values()[i]);
            CHECK(std::fabs(ours.dequantized[i] - expected.values()[i]) <= 1e-6f * row_max);
        }
        CHECK(std::isfinite(ours.metrics.mse));
    }
}

TEST_CASE("the SIMD ggml paths match the reference even where a fused multiply-add would round differently") {
    // Found by the benchmark: with x*id + 8.5 contracted into one FMA these blocks differ by
    // one code from llama.cpp's reference (which rounds x*id first).
    std::vector<float> blocks = {
        0.0148039032f,   -0.0961205363f, 0.124267749f,    -0.450430959f,   0.300928593f,    0.190711677f,
        0.00490727369f,  -0.0450232364f, 0.0577521622f,   0.0233216621f,   0.133503795f,    0.0252114721f,
        -0.0950101987f,  -0.0505745821f, 0.183671743f,    -0.00354472501f, 0.098390758f,    -0.0946493596f,
        -0.00604767585f, 0.554376602f,   -0.0232284963f,  -0.0339909047f,  -0.00853433553f, 0.0456892923f,
        -0.0364055969f,  -0.0283600688f, -0.01722835f,    0.013134093f,    -0.0239998903f,  0.0539015308f,
        -0.131181434f,   0.0327548347f,  0.0143848425f,   0.0224531684f,   -0.0221708976f,  0.156838f,
        0.0146168675f,   0.191619605f,   -0.00797816925f, 0.00495286565f,  0.00370050012f,  0.133673042f,
        -0.0353239328f,  -0.0984870717f, -0.0857056752f,  0.613182664f,    0.0305188354f,   -0.023303654f,
        -0.20650956f,    0.0181793235f,  0.304409444f,    0.105889648f,    0.0548536181f,   0.00128297857f,
        0.0198008008f,   0.127193362f,   0.0432166904f,   0.157276914f,    0.0467268303f,   -0.148989081f,
        0.000823146838f, 0.0249492005f,  -0.120731615f,   -0.0162067283f};
    std::mt19937 rng(3);
    std::student_t_distribution<float> t(4);
    for (int i = 0; i < 32 * 20000; ++i)
        blocks.push_back(0.02f * t(rng) * static_cast<float>(1 + i % 7));
    for (int i = 0; i < 64; ++i)
        blocks.push_back(i < 32 ? 0.0f : -1.0f);  // an all-zero block and a constant one
    for (DType type : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1}) {
        INFO(dtype_name(type));
        std::vector<std::uint8_t> fast(blocks.size() / 32 * dtype_info(type).block_bytes),
            reference(fast.size()), threaded(fast.size());
        quantize_ggml_row_single_thread(type, blocks, fast);
        quantize_ggml_row_reference(type, blocks, reference);
        quantize_ggml_row(type, blocks, threaded);
        CHECK(fast == reference);
        CHECK(threaded == reference);
    }
}

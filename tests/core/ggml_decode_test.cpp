// Every ggml block type QuantLens decodes gives, bit for bit, what ggml's own to_float gives
// (tests/data/golden/ggml_decode.npz, made by samples/ggml/make_decode_goldens.py from ggml
// built outside the repository): blocks ggml quantized from zeros, ±0, constants, huge, tiny
// and heavy-tailed rows, and blocks of random bytes (whose NaN scales give NaN values, which
// the readers then report as non-finite like any other).
#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "analysis/model_analysis.hpp"
#include "io/gguf.hpp"
#include "io/model_file.hpp"
#include "model/inspection.hpp"
#include "model/model.hpp"
#include "io/open_model.hpp"
#include "tensor/convert.hpp"
#include "tensor/ggml_blocks.hpp"
#include "tensor/ggml_iq_grids.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("K-quants, i-quants, ternary and FP4 blocks decode exactly as ggml does") {
    const auto golden = open_model_file(QUANTLENS_TEST_DATA "/golden/ggml_decode.npz");
    const std::pair<const char*, DType> types[] = {
        {"q2_K", DType::Q2_K},     {"q3_K", DType::Q3_K},   {"q4_K", DType::Q4_K},
        {"q5_K", DType::Q5_K},     {"q6_K", DType::Q6_K},   {"q8_K", DType::Q8_K},
        {"tq1_0", DType::TQ1_0},   {"tq2_0", DType::TQ2_0}, {"iq4_nl", DType::IQ4_NL},
        {"iq4_xs", DType::IQ4_XS}, {"mxfp4", DType::MXFP4}, {"nvfp4", DType::NVFP4},
        {"q1_0", DType::Q1_0},     {"q2_0", DType::Q2_0},   {"iq2_xxs", DType::IQ2_XXS},
        {"iq2_xs", DType::IQ2_XS}, {"iq2_s", DType::IQ2_S}, {"iq3_xxs", DType::IQ3_XXS},
        {"iq3_s", DType::IQ3_S},   {"iq1_s", DType::IQ1_S}, {"iq1_m", DType::IQ1_M}};
    for (const auto& [name, type] : types) {
        INFO(name);
        const auto blocks = golden->read(golden->tensor(std::string(name) + "_blocks"));
        const auto expected = golden->read_f32(golden->tensor(std::string(name) + "_values"));
        const auto& info = dtype_info(type);
        REQUIRE(blocks.bytes().size() % info.block_bytes == 0);
        REQUIRE(blocks.bytes().size() / info.block_bytes * info.block_elements == expected.values().size());
        std::vector<float> ours(expected.values().size());
        decode_to_f32(type, blocks.bytes(), ours);
        std::size_t differing = 0, first = ours.size();
        for (std::size_t i = 0; i < ours.size(); ++i)
            // Bit for bit, but any NaN matches any NaN (a random scale can be NaN, and which NaN
            // a product of one gives depends on the compiler's operand order).
            if (std::bit_cast<std::uint32_t>(ours[i]) != std::bit_cast<std::uint32_t>(expected.values()[i]) &&
                !(std::isnan(ours[i]) && std::isnan(expected.values()[i]))) {
                ++differing;
                first = std::min(first, i);
            }
        INFO("first difference at value " << first << ": " << (first < ours.size() ? ours[first] : 0.0f)
                                          << " against "
                                          << (first < ours.size() ? expected.values()[first] : 0.0f));
        CHECK(differing == 0);
    }
}

TEST_CASE("the grid i-quants' codebooks are ggml's: sizes, levels and the even-parity signs") {
    CHECK(ggml::kIq2xxsGrid.size() == 256);
    CHECK(ggml::kIq2xsGrid.size() == 512);
    CHECK(ggml::kIq2sGrid.size() == 1024);
    CHECK(ggml::kIq3xxsGrid.size() == 256);
    CHECK(ggml::kIq3sGrid.size() == 512);
    CHECK(ggml::kIq1sGrid.size() == 2048);
    // ggml-common.h's first and last points, as its tables print them.
    CHECK(ggml::kIq2xxsGrid[1] == std::array<std::uint8_t, 8>{0x2b, 8, 8, 8, 8, 8, 8, 8});
    CHECK(ggml::kIq3xxsGrid[5] == std::array<std::uint8_t, 4>{0x3e, 0x0c, 0x04, 0x04});
    CHECK(ggml::kIq1sGrid[0] == std::array<std::int8_t, 8>{-1, -1, -1, -1, -1, -1, -1, -1});
    CHECK(ggml::even_signs(1) == 129);
    CHECK(ggml::even_signs(3) == 3);
    CHECK(ggml::even_signs(127) == 255);
}

TEST_CASE("a K-quant GGUF layer is analysed like any other: statistics of ggml's values, specs measured") {
    ScratchDir dir;
    const auto golden = open_model_file(QUANTLENS_TEST_DATA "/golden/ggml_decode.npz");
    const auto blocks = golden->read(golden->tensor("q4_K_blocks"));
    const auto expected = golden->read_f32(golden->tensor("q4_K_values"));
    const auto rows_bytes = blocks.bytes().first(8 * 144);  // the 8 rows ggml quantized (256 values each)
    write_gguf(dir.file("k.gguf"), {gguf_string("general.architecture", "llama")},
               {{"blk.0.ffn_up.weight", DType::Q4_K, {8, 256}, rows_bytes}});
    AnalysisOptions options;
    options.use_cache = false;
    options.specs = {QuantSpec::parse("q8_0"), QuantSpec::parse("int4:g32:asym")};
    const auto report = analyze_model(Model::open(dir.file("k.gguf")), options);
    REQUIRE(report.layers.size() == 1);
    const auto& layer = report.layers[0];
    CHECK(layer.error.empty());
    CHECK(layer.statistics.count == 8 * 256);
    double absmax = 0;
    for (std::size_t i = 0; i < 8 * 256; ++i)
        absmax = std::max(absmax, std::fabs(static_cast<double>(expected.values()[i])));
    CHECK(layer.statistics.absmax == Approx(absmax).epsilon(1e-12));
    for (const auto& outcome : layer.quantization)
        CHECK(outcome.metrics.has_value());
}

TEST_CASE("a GGUF holding every ggml block type opens, and inspect's statistics are those of ggml's values") {
    // One tensor per type: the blocks ggml quantized (8 rows of 256 values; the random blocks
    // after them can hold NaN scales), written as a GGUF; inspect --json's min, max and mean of
    // each equal those of ggml's own dequantization.
    ScratchDir dir;
    const auto golden = open_model_file(QUANTLENS_TEST_DATA "/golden/ggml_decode.npz");
    const std::pair<const char*, DType> types[] = {
        {"q2_K", DType::Q2_K},   {"q3_K", DType::Q3_K},       {"q4_K", DType::Q4_K},
        {"q5_K", DType::Q5_K},   {"q6_K", DType::Q6_K},       {"tq1_0", DType::TQ1_0},
        {"tq2_0", DType::TQ2_0}, {"iq4_nl", DType::IQ4_NL},   {"iq4_xs", DType::IQ4_XS},
        {"mxfp4", DType::MXFP4}, {"nvfp4", DType::NVFP4},     {"q1_0", DType::Q1_0},
        {"q2_0", DType::Q2_0},   {"iq2_xxs", DType::IQ2_XXS}, {"iq2_xs", DType::IQ2_XS},
        {"iq2_s", DType::IQ2_S}, {"iq3_xxs", DType::IQ3_XXS}, {"iq3_s", DType::IQ3_S},
        {"iq1_s", DType::IQ1_S}, {"iq1_m", DType::IQ1_M}};
    constexpr std::int64_t kRows = 8, kRow = 256;
    std::vector<std::vector<std::byte>> storage;
    std::vector<std::vector<float>> expected;
    std::vector<TensorToWrite> tensors;
    for (const auto& [name, type] : types) {
        const auto& info = dtype_info(type);
        const auto blocks = golden->read(golden->tensor(std::string(name) + "_blocks"));
        const auto values = golden->read_f32(golden->tensor(std::string(name) + "_values"));
        const std::size_t bytes = kRows * kRow / info.block_elements * info.block_bytes;
        storage.emplace_back(blocks.bytes().begin(), blocks.bytes().begin() + static_cast<long>(bytes));
        expected.emplace_back(values.values().begin(), values.values().begin() + kRows * kRow);
    }
    for (std::size_t t = 0; t < std::size(types); ++t)
        tensors.push_back({std::string("blk.") + std::to_string(t) + ".ffn_up.weight",
                           types[t].second,
                           {kRows, kRow},
                           storage[t]});
    write_gguf(dir.file("every.gguf"), {gguf_string("general.architecture", "llama")}, tensors);
    const auto inspection = inspect_model(Model::open(dir.file("every.gguf")), true);
    std::size_t checked = 0;
    for (const auto& layer : inspection.layers)
        for (const auto& tensor : layer.tensors) {
            const auto t = static_cast<std::size_t>(std::stoi(tensor.name.substr(4)));
            INFO(types[t].first);
            CHECK(tensor.stored_type == dtype_name(types[t].second));
            REQUIRE(tensor.summary);
            const auto& values = expected[t];
            double sum = 0;
            for (const float v : values)
                sum += v;
            CHECK(tensor.summary->min == *std::min_element(values.begin(), values.end()));
            CHECK(tensor.summary->max == *std::max_element(values.begin(), values.end()));
            CHECK(tensor.summary->mean ==
                  Approx(sum / static_cast<double>(values.size())).epsilon(1e-9).margin(1e-12));
            ++checked;
        }
    CHECK(checked == std::size(types));
}

TEST_CASE(
    "a corrupt block (a NaN scale) is reported by tensor and block, and the other layers are analysed") {
    ScratchDir dir;
    const auto golden = open_model_file(QUANTLENS_TEST_DATA "/golden/ggml_decode.npz");
    const auto blocks = golden->read(golden->tensor("q4_K_blocks"));
    std::vector<std::byte> corrupt(blocks.bytes().begin(), blocks.bytes().begin() + 8 * 144);
    const std::uint16_t nan_half = 0x7E00;
    std::memcpy(corrupt.data() + 3 * 144, &nan_half, 2);  // block 3's d
    const std::vector<std::byte> clean(blocks.bytes().begin(), blocks.bytes().begin() + 8 * 144);
    write_gguf(dir.file("bad.gguf"), {gguf_string("general.architecture", "llama")},
               {{"blk.0.ffn_up.weight", DType::Q4_K, {8, 256}, corrupt},
                {"blk.0.ffn_down.weight", DType::Q4_K, {8, 256}, clean}});
    AnalysisOptions options;
    options.use_cache = false;
    options.specs = {QuantSpec::parse("q8_0")};
    const auto report = analyze_model(Model::open(dir.file("bad.gguf")), options);
    REQUIRE(report.layers.size() == 2);
    std::size_t failed = 0;
    for (const auto& layer : report.layers) {
        if (layer.layer != "blk.0.ffn_up") {
            CHECK(layer.error.empty());
            continue;
        }
        ++failed;
        CHECK_THAT(layer.error, Catch::Contains("bad.gguf") && Catch::Contains("not finite") &&
                                    Catch::Contains("Q4_K block 3, values 768..1023, at byte 432"));
    }
    CHECK(failed == 1);
}

// Every ggml type QuantLens writes gives, byte for byte, what ggml_quantize_chunk (the function
// llama-quantize calls) gives for the same rows, with and without an importance matrix
// (tests/data/golden/ggml_encode.npz, made by samples/ggml/make_encode_goldens.py from the ggml
// inside the llama.cpp checkout the llama-quantize goldens come from, built outside the
// repository; it differs from ggml's own repository only in IQ1_M's split search). The rows
// include zeros, ±0, constants, exact ties, huge (1e18) and tiny values, outliers, all-zero
// sub-blocks and an offset row; the importance has zeros.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "io/model_file.hpp"
#include "io/open_model.hpp"
#include "quant/ggml_fallback.hpp"
#include "quant/ggml_kquants.hpp"
#include "quant/ggml_quantizer.hpp"
#include "quant/quantizer.hpp"
#include "tensor/convert.hpp"
#include "tensor/ggml_blocks.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct EncodeGoldens {
    std::unique_ptr<ModelFile> file = open_model_file(QUANTLENS_TEST_DATA "/golden/ggml_encode.npz");
    std::vector<float> input = values("input");
    std::vector<float> importance = values("importance");
    std::size_t n_per_row = importance.size();

    std::vector<float> values(const std::string& name) const {
        const auto data = file->read_f32(file->tensor(name));
        return {data.values().begin(), data.values().end()};
    }
    std::vector<std::uint8_t> blocks(const std::string& name) const {
        const auto data = file->read(file->tensor(name));
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(data.bytes().data());
        return {bytes, bytes + data.bytes().size()};
    }
};

// The index of the first differing block, or −1.
long first_difference(const std::vector<std::uint8_t>& ours, const std::vector<std::uint8_t>& expected,
                      std::size_t block_bytes) {
    for (std::size_t i = 0; i < ours.size(); ++i)
        if (ours[i] != expected[i])
            return static_cast<long>(i / block_bytes);
    return -1;
}

const std::pair<const char*, DType> kWritten[] = {
    {"q4_0", DType::Q4_0},   {"q4_1", DType::Q4_1},  {"q5_0", DType::Q5_0},     {"q5_1", DType::Q5_1},
    {"q8_0", DType::Q8_0},   {"q2_K", DType::Q2_K},  {"q3_K", DType::Q3_K},     {"q4_K", DType::Q4_K},
    {"q5_K", DType::Q5_K},   {"q6_K", DType::Q6_K},  {"iq4_nl", DType::IQ4_NL}, {"iq4_xs", DType::IQ4_XS},
    {"tq1_0", DType::TQ1_0}, {"tq2_0", DType::TQ2_0}};

const std::pair<const char*, DType> kGridIquants[] = {
    {"iq2_xxs", DType::IQ2_XXS}, {"iq2_xs", DType::IQ2_XS}, {"iq2_s", DType::IQ2_S},
    {"iq3_xxs", DType::IQ3_XXS}, {"iq3_s", DType::IQ3_S},   {"iq1_s", DType::IQ1_S},
    {"iq1_m", DType::IQ1_M}};

}  // namespace

TEST_CASE("the grid i-quants are written byte-identical to ggml, and refused where ggml aborts") {
    // ggml quantized these a row at a time; where it aborted (IQ2_XXS, IQ2_XS and IQ1_S without
    // importance; weighted errors that overflow on row 12's 1e18 values) QuantLens must refuse.
    const EncodeGoldens golden;
    const std::size_t n = golden.n_per_row;
    for (const auto& [name, type] : kGridIquants) {
        const auto row_bytes = n / 256 * dtype_info(type).block_bytes;
        for (const bool weighted : {false, true}) {
            const std::string key = std::string(name) + (weighted ? "_imatrix" : "");
            const auto expected = golden.blocks(key);
            const auto aborted = golden.blocks(key + "_aborted");
            REQUIRE(aborted.size() == 16);
            const std::span<const float> importance =
                weighted ? std::span<const float>(golden.importance) : std::span<const float>();
            for (std::size_t r = 0; r < 16; ++r) {
                INFO(name << (weighted ? " with importance" : " without importance") << ", row " << r);
                std::vector<std::uint8_t> ours(row_bytes);
                const auto row = std::span<const float>(golden.input).subspan(r * n, n);
                if (aborted[r]) {
                    CHECK_THROWS(quantize_ggml_rows(type, row, n, importance, ours));
                    continue;
                }
                quantize_ggml_rows(type, row, n, importance, ours);
                const std::vector<std::uint8_t> want(
                    expected.begin() + static_cast<long>(r * row_bytes),
                    expected.begin() + static_cast<long>((r + 1) * row_bytes));
                const long block = first_difference(ours, want, dtype_info(type).block_bytes);
                INFO("first differing block " << block);
                CHECK(block == -1);
            }
        }
    }
}

TEST_CASE(
    "ggml types are written byte-identical to ggml_quantize_chunk, with and without an importance matrix") {
    const EncodeGoldens golden;
    REQUIRE(golden.n_per_row == 512);
    REQUIRE(golden.input.size() == 16 * golden.n_per_row);
    for (const auto& [name, type] : kWritten) {
        const auto& info = dtype_info(type);
        for (const bool weighted : {false, true}) {
            INFO(name << (weighted ? " with importance" : " without importance"));
            const auto expected = golden.blocks(std::string(name) + (weighted ? "_imatrix" : ""));
            std::vector<std::uint8_t> ours(expected.size());
            const std::span<const float> importance =
                weighted ? std::span<const float>(golden.importance) : std::span<const float>();
            quantize_ggml_rows(type, golden.input, golden.n_per_row, importance, ours);
            const long block = first_difference(ours, expected, info.block_bytes);
            INFO("first differing block " << block << " (row "
                                          << block * static_cast<long>(info.block_elements) / 512 << ")");
            CHECK(block == -1);
        }
    }
}

TEST_CASE("a ggml spec quantizes through quantize() with the layer's importance and decodes its own blocks") {
    const EncodeGoldens golden;
    // The first twelve rows: row 12's 1e18 values overflow a half scale, which quantize()
    // refuses as a non-finite result (tested in non_finite_test).
    const std::size_t rows = 12, values = rows * golden.n_per_row;
    const WeightMatrix w{std::span<const float>(golden.input).first(values), static_cast<std::int64_t>(rows),
                         static_cast<std::int64_t>(golden.n_per_row)};
    const struct {
        const char *golden, *spec;
        DType type;
        bool weighted;
        std::size_t group;  // values sharing the first group's levels
    } cases[] = {{"q4_K_imatrix", "q4_k", DType::Q4_K, true, 32},
                 {"q6_K_imatrix", "q6_k", DType::Q6_K, true, 16},
                 {"iq4_xs_imatrix", "iq4_xs", DType::IQ4_XS, true, 32},
                 {"q3_K", "q3_k", DType::Q3_K, false, 16},
                 {"q2_K_imatrix", "q2_k", DType::Q2_K, true, 16},
                 {"q5_K", "q5_k", DType::Q5_K, false, 32},
                 {"iq4_nl_imatrix", "iq4_nl", DType::IQ4_NL, true, 32},
                 {"tq2_0", "tq2_0", DType::TQ2_0, true, 256},  // TQ2_0 ignores importance
                 {"iq2_xxs_imatrix", "iq2_xxs", DType::IQ2_XXS, true, 32},
                 {"iq2_xs_imatrix", "iq2_xs", DType::IQ2_XS, true, 16},
                 {"iq2_s", "iq2_s", DType::IQ2_S, false, 16},
                 {"iq3_xxs_imatrix", "iq3_xxs", DType::IQ3_XXS, true, 32},
                 {"iq3_s", "iq3_s", DType::IQ3_S, false, 32},
                 {"iq1_s_imatrix", "iq1_s", DType::IQ1_S, true, 32},
                 {"iq1_m", "iq1_m", DType::IQ1_M, false, 8}};
    for (const auto& c : cases) {
        INFO(c.spec);
        QuantOptions options;
        if (c.weighted)
            options.importance = golden.importance;
        const auto result = quantize(w, QuantSpec::parse(c.spec), options);
        const auto& info = dtype_info(c.type);
        auto expected = golden.blocks(c.golden);
        expected.resize(values / info.block_elements * info.block_bytes);
        CHECK(result.blocks == expected);
        std::vector<float> decoded(values);
        decode_to_f32(c.type,
                      {reinterpret_cast<const std::byte*>(result.blocks.data()), result.blocks.size()},
                      decoded);
        CHECK(std::memcmp(decoded.data(), result.dequantized.data(), decoded.size() * sizeof(float)) == 0);
        for (std::size_t i = 0; i < c.group; ++i)  // every value of the first group is one of its levels
            CHECK(std::find(result.levels.begin(), result.levels.end(), result.dequantized[i]) !=
                  result.levels.end());
        CHECK(result.metrics.bits_per_weight == Approx(8.0 * info.block_bytes / info.block_elements));
    }
}

TEST_CASE("IQ2_XXS, IQ2_XS and IQ1_S without an importance matrix are refused, saying what to do") {
    std::vector<float> values(2 * 256, 0.5f);
    for (const char* spec : {"iq2_xxs", "iq2_xs", "iq1_s"}) {
        INFO(spec);
        CHECK_THROWS_WITH(quantize({values, 2, 256}, QuantSpec::parse(spec)),
                          Catch::Contains("only with an importance matrix") && Catch::Contains("--imatrix"));
    }
    for (const char* spec : {"iq2_s", "iq3_xxs", "iq3_s", "iq1_m"})
        CHECK_NOTHROW(quantize({values, 2, 256}, QuantSpec::parse(spec)));
    // Below quantize() (which refuses non-finite weights first), the encoder names the block.
    values[256 + 7] = std::numeric_limits<float>::infinity();
    std::vector<float> importance(256, 1.0f);
    std::vector<std::uint8_t> out(2 * 66);
    CHECK_THROWS_WITH(quantize_ggml_rows(DType::IQ2_XXS, values, 256, importance, out),
                      Catch::Contains("IQ2_XXS") && Catch::Contains("values 0..255 of row 1") &&
                          Catch::Contains("not finite"));
}

TEST_CASE("the super-block types refuse rows that are not whole blocks, and importance of the wrong length") {
    std::vector<float> values(2 * 288, 0.5f);
    CHECK_THROWS_WITH(quantize({values, 2, 288}, QuantSpec::parse("q4_k")),
                      Catch::Contains("multiple of 256"));
    CHECK_NOTHROW(quantize({values, 2, 288}, QuantSpec::parse("iq4_nl")));  // 288 = 9 blocks of 32
    std::vector<std::uint8_t> none;
    CHECK_NOTHROW(quantize_ggml_row(DType::Q4_K, {}, none));  // an empty tensor writes nothing
    std::vector<float> short_importance(100, 1.0f);
    QuantOptions options;
    options.importance = short_importance;
    std::vector<float> rows(512, 0.5f);
    CHECK_THROWS_WITH(quantize({rows, 2, 256}, QuantSpec::parse("q4_k"), options),
                      Catch::Contains("importance matrix has 100 entries"));
}

TEST_CASE("the ggml type names parse as specs and print back unchanged") {
    for (const char* name : {"q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0"}) {
        INFO(name);
        const auto spec = QuantSpec::parse(name);
        CHECK(spec.to_string() == name);
        CHECK(spec.is_block_format());
    }
}

TEST_CASE("rows a type's blocks do not divide fall back as llama-quantize falls back") {
    auto fallback = [](const char* spec, std::int64_t row) {
        return ggml_fallback(QuantSpec::parse(spec), row).to_string();
    };
    CHECK(fallback("q4_k", 4096) == "q4_k");
    CHECK(fallback("q4_k", 288) == "q5_0");
    CHECK(fallback("q5_k", 288) == "q5_1");
    CHECK(fallback("q6_k", 96) == "q8_0");
    CHECK(fallback("q2_k", 64) == "q4_0");
    CHECK(fallback("q3_k", 64) == "q4_0");
    CHECK(fallback("tq1_0", 64) == "q4_0");
    CHECK(fallback("tq2_0", 64) == "q4_0");
    CHECK(fallback("iq4_xs", 64) == "iq4_nl");
    CHECK(fallback("q4_k", 100) == "f16");  // not even 32-value blocks
    CHECK(fallback("q4_0", 100) == "f16");
    CHECK(fallback("q8_0", 64) == "q8_0");
    CHECK(fallback("int4:g128:asym", 100) == "int4:g128:asym");  // not a ggml type: no fallback
    CHECK(ggml_fallback_chain(QuantSpec::parse("q4_k")).size() == 2);
    CHECK(ggml_fallback_chain(QuantSpec::parse("int4:g128:asym")).empty());
}

TEST_CASE("the K-quants' AVX2 search lanes give the plain transcription's bytes, block for block") {
    // Rows of many kinds (the goldens' input, then scaled, shifted and sign-flipped copies), with
    // and without importance: every super-block through both paths.
    const EncodeGoldens golden;
    std::vector<float> input;
    for (const float factor : {1.0f, -3.5f, 1e-3f, 250.0f})
        for (std::size_t i = 0; i < 12 * golden.n_per_row; ++i)  // row 12's 1e18 would overflow
            input.push_back(golden.input[i] * factor + (factor < 0 ? 0.01f : 0.0f));
    for (const DType type : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS, DType::IQ4_NL}) {
        INFO(dtype_name(type));
        const auto bytes = input.size() / dtype_info(type).block_elements * dtype_info(type).block_bytes;
        for (const bool weighted : {false, true}) {
            std::vector<std::uint8_t> lanes(bytes), plain(bytes);
            const float* importance = weighted ? golden.importance.data() : nullptr;
            ggml::quantize_rows_weighted(type, input.data(), input.size(), golden.n_per_row, importance,
                                         lanes.data());
            {
                const ggml::PlainSearchScope scope;
                ggml::quantize_rows_weighted(type, input.data(), input.size(), golden.n_per_row, importance,
                                             plain.data());
            }
            CHECK(first_difference(lanes, plain, dtype_info(type).block_bytes) == -1);
        }
    }
}

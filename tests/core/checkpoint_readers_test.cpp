// The quantized checkpoints other tools publish (GPTQ, AWQ, MLX, bitsandbytes, FP8,
// compressed-tensors), as samples/checkpoint_samples.py packs them from each tool's documented
// layout: every weight reads back to the generator's dequantized values bit for bit, and `diff`
// against the float base reports NumPy's MSE.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>

#include "analysis/checkpoint_diff.hpp"
#include "io/safetensors.hpp"
#include "model/model.hpp"
#include "tensor/stored_quantization.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

const char* const kCheckpoints[] = {"gptq-4bit-act-order",
                                    "gptq-3bit",
                                    "gptq-2bit",
                                    "gptq-8bit-v2",
                                    "awq-gemm",
                                    "awq-gemv",
                                    "mlx-4bit",
                                    "mlx-3bit",
                                    "fp8-block",
                                    "fp8-tensor",
                                    "ct-float-quantized",
                                    "ct-int-quantized",
                                    "ct-naive-quantized",
                                    "bnb-nf4-nested",
                                    "bnb-fp4",
                                    "bnb-int8"};

std::string golden_key(const std::string& name) {
    std::string key = name;
    for (auto& c : key)
        if (c == '.')
            c = '_';
    return key;
}

double golden_double(const ModelFile& golden, const std::string& name) {
    const auto bytes = golden.read(golden.tensor(name));
    REQUIRE(bytes.bytes().size() == 8);
    double value;
    std::memcpy(&value, bytes.bytes().data(), 8);
    return value;
}

}  // namespace

TEST_CASE("published quantized checkpoints read as one dequantized weight per layer bit for bit") {
    for (const char* name : kCheckpoints) {
        INFO(name);
        const auto model = Model::open(data_path(std::string("checkpoints/") + name));
        const auto golden = open_model_file(data_path(std::string("golden/checkpoints/") + name + ".npz"));
        CHECK(model.file().left_out().empty());
        int checked = 0;
        for (const auto& layer : model.layers()) {
            if (layer.weight.ends_with("layernorm.weight"))
                continue;
            INFO(layer.weight);
            const auto& info = model.file().tensor(layer.weight);
            REQUIRE(info.quantization);
            const auto expected = golden->read_f32(golden->tensor(golden_key(layer.weight)));
            const auto weights = model.read_weights(layer);
            REQUIRE(weights.values().size() == expected.values().size());
            CHECK(std::memcmp(weights.values().data(), expected.values().data(),
                              expected.values().size() * 4) == 0);
            ++checked;
        }
        CHECK(checked == 3);
        // the parts are no longer layers of their own: one layer per Linear and the norm
        CHECK(model.layers().size() == 4);
    }
}

TEST_CASE("checkpoint layers say what they store and how many bytes it takes") {
    const auto gptq = Model::open(data_path("checkpoints/gptq-4bit-act-order"));
    const auto& q = *gptq.file().tensor("model.layers.0.mlp.down_proj.weight").quantization;
    CHECK(q.form == "GPTQ");
    CHECK(q.type_name() == "uint4 blocks of 32");
    CHECK(q.group_index.has_value());
    CHECK(q.zero_offset == 1);
    // qweight 128·64/8 words, qzeros 4·8 words, scales 4·64 halves, g_idx 128 ints
    CHECK(q.stored_bytes() == 128 * 64 / 2 + 4 * 8 * 4 + 4 * 64 * 2 + 128 * 4);
    const auto v2 = Model::open(data_path("checkpoints/gptq-8bit-v2"));
    CHECK(v2.file().tensor("model.layers.0.mlp.down_proj.weight").quantization->zero_offset == 0);
    const auto nf4 = Model::open(data_path("checkpoints/bnb-nf4-nested"));
    const auto& b = *nf4.file().tensor("model.layers.0.self_attn.q_proj.weight").quantization;
    CHECK(b.type_name() == "nf4 blocks of 64");
    CHECK(b.tables.size() == 3);
    CHECK(b.output_type == DType::F16);
    const auto fp8 = Model::open(data_path("checkpoints/fp8-block"));
    CHECK(fp8.file().tensor("model.layers.0.mlp.down_proj.weight").quantization->type_name() ==
          "float8 E4M3 blocks of 16x32");
    // a part stays reachable by name
    CHECK(gptq.file().tensor_or_part("model.layers.0.mlp.down_proj.g_idx").dtype == DType::I32);
}

TEST_CASE("diff of the float base against each checkpoint reports NumPy's per-layer MSE") {
    const auto base = Model::open(data_path("checkpoints/base"));
    for (const char* name : kCheckpoints) {
        INFO(name);
        const auto other = Model::open(data_path(std::string("checkpoints/") + name));
        const auto golden = open_model_file(data_path(std::string("golden/checkpoints/") + name + ".npz"));
        const auto diff = diff_models(base, other);
        CHECK(diff.only_in_base.empty());
        CHECK(diff.only_in_other.empty());
        REQUIRE(diff.layers.size() == 4);
        for (const auto& row : diff.layers) {
            INFO(row.layer);
            REQUIRE(row.error.empty());
            CHECK(row.pairing == "name");
            if (row.layer.ends_with("layernorm"))
                continue;
            const double expected = golden_double(*golden, "mse_" + golden_key(row.layer + ".weight"));
            CHECK(row.metrics.mse == Approx(expected).epsilon(1e-9));
            CHECK(row.bits_per_weight > 2);
            CHECK(row.bits_per_weight < 32);  // AWQ GEMV pads its scales: small layers pay
            CHECK(row.stored != "F32");
        }
    }
}

namespace {

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
    return std::as_bytes(std::span(values));
}

// A two-layer GPTQ folder (4-bit, group 16, K = 32, N = 8) with the parts given, for malformed packs.
std::string write_gptq(const ScratchDir& dir, const std::vector<TensorToWrite>& tensors) {
    write_bytes(
        dir.file("config.json"),
        R"({"model_type": "llama", "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 16}})");
    write_safetensors(dir.file("model.safetensors"), tensors);
    return dir.path().string();
}

}  // namespace

TEST_CASE("malformed GPTQ packs are left out or refused naming the tensor at fault") {
    const std::vector<std::int32_t> qweight(4 * 8, 0x76543210), qzeros(2 * 1, 0x77777777), bad_zeros(3, 0);
    const std::vector<std::uint16_t> scales(2 * 8, 0x3c00);  // f16 1.0
    std::vector<std::int32_t> g_idx(32, 0);
    SECTION("scales missing") {
        ScratchDir dir;
        const auto model = Model::open(write_gptq(dir, {{"m.qweight", DType::I32, {4, 8}, bytes_of(qweight)},
                                                        {"m.qzeros", DType::I32, {2, 1}, bytes_of(qzeros)}}));
        REQUIRE(model.file().left_out().size() == 1);
        CHECK(model.file().left_out()[0].name == "m.weight");
        CHECK_THAT(model.file().left_out()[0].reason, Catch::Contains("m.scales: missing"));
        CHECK(model.layers().empty());
    }
    SECTION("qzeros of the wrong shape") {
        ScratchDir dir;
        const auto model = Model::open(write_gptq(dir, {{"m.qweight", DType::I32, {4, 8}, bytes_of(qweight)},
                                                        {"m.qzeros", DType::I32, {3, 1}, bytes_of(bad_zeros)},
                                                        {"m.scales", DType::F16, {2, 8}, bytes_of(scales)}}));
        REQUIRE(model.file().left_out().size() == 1);
        CHECK_THAT(model.file().left_out()[0].reason,
                   Catch::Contains("m.qzeros: qzeros must be I32 [2, 1], found I32 [3, 1]"));
    }
    SECTION("g_idx out of range") {
        ScratchDir dir;
        g_idx[5] = 7;
        const auto model = Model::open(write_gptq(dir, {{"m.qweight", DType::I32, {4, 8}, bytes_of(qweight)},
                                                        {"m.qzeros", DType::I32, {2, 1}, bytes_of(qzeros)},
                                                        {"m.scales", DType::F16, {2, 8}, bytes_of(scales)},
                                                        {"m.g_idx", DType::I32, {32}, bytes_of(g_idx)}}));
        REQUIRE(model.layers().size() == 1);
        CHECK_THROWS_WITH(model.read_weights(model.layers()[0]),
                          Catch::Contains("m.g_idx") && Catch::Contains("g_idx[5] is 7"));
    }
    SECTION("well formed, the same bytes read as codes 0..7 minus zero 8") {
        ScratchDir dir;
        const auto model = Model::open(write_gptq(dir, {{"m.qweight", DType::I32, {4, 8}, bytes_of(qweight)},
                                                        {"m.qzeros", DType::I32, {2, 1}, bytes_of(qzeros)},
                                                        {"m.scales", DType::F16, {2, 8}, bytes_of(scales)}}));
        const auto weights = model.read_weights(model.layers().at(0));
        REQUIRE(weights.shape == std::vector<std::int64_t>{8, 32});
        // column n, input k: code k % 8 (one nibble per input row), v1 zero 7 + 1
        for (std::int64_t k = 0; k < 32; ++k)
            CHECK(weights.values()[static_cast<std::size_t>(k)] == static_cast<float>(k % 8 - 8));
    }
}

TEST_CASE("a qweight without a quantization_config is left out with the reason") {
    ScratchDir dir;
    const std::vector<std::int32_t> words(4, 0);
    write_safetensors(dir.file("x.safetensors"), {{"m.qweight", DType::I32, {1, 4}, bytes_of(words)},
                                                  {"m.qzeros", DType::I32, {1, 4}, bytes_of(words)},
                                                  {"m.scales", DType::F32, {1, 4}, bytes_of(words)}});
    const auto file = open_model_file(dir.file("x.safetensors"));
    REQUIRE(file->left_out().size() == 1);
    CHECK_THAT(file->left_out()[0].reason,
               Catch::Contains("without a quantization_config naming gptq or awq"));
}

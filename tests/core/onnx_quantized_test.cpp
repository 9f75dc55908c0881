// ONNX weights stored quantized read as what they are: one float tensor of the dequantized values
// (bit for bit the golden's, which onnxruntime reproduces: tests/onnxruntime) that knows its codes,
// scales and zero points. Files and goldens: samples/onnx_quantized_samples.py.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "model/inspection.hpp"
#include "model/model.hpp"
#include "tensor/stored_quantization.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

using namespace quantlens;
using quantlens::test::data_path;

namespace {

nlohmann::json golden(const std::string& name) {
    std::ifstream in(data_path("onnx-quantized/" + name + ".golden.json"));
    return nlohmann::json::parse(in);
}

std::string optional_name(const std::optional<TensorInfo>& part) {
    return part ? part->name : "";
}

// Every golden weight: listed once as float32 of the weight's shape, its stored form described,
// its values the golden's exactly, and none of its parts listed as tensors of their own.
void check_against_golden(const std::string& file_name) {
    const auto expected = golden(file_name);
    const auto model = Model::open(data_path("onnx-quantized/" + file_name + ".onnx"));
    const auto& file = model.file();
    for (const auto& [name, want] : expected["tensors"].items()) {
        INFO(file_name << ": " << name);
        const auto& info = file.tensor(name);
        REQUIRE(info.quantization);
        const auto& q = *info.quantization;
        CHECK(info.dtype == DType::F32);
        CHECK(info.shape == want["shape"].get<std::vector<std::int64_t>>());
        CHECK(q.form == want["form"].get<std::string>());
        CHECK(q.codes.name == want["codes"].get<std::string>());
        CHECK(q.scales.name == want["scales"].get<std::string>());
        CHECK(optional_name(q.zero_points) == (want["zero_points"].is_null() ? "" : want["zero_points"]));
        CHECK(optional_name(q.group_index) == (want["group_index"].is_null() ? "" : want["group_index"]));
        CHECK(q.axis == want["axis"].get<int>());
        CHECK(q.block_size == want["block_size"].get<std::int64_t>());
        CHECK(q.bits == want["bits"].get<int>());
        CHECK(q.is_signed == want["signed"].get<bool>());
        for (const auto* part : {&q.scales.name, &q.codes.name})
            if (*part != name)
                CHECK_THROWS_AS(file.tensor(*part), Error);
        if (q.zero_points)
            CHECK_THROWS_AS(file.tensor(q.zero_points->name), Error);
        const auto values = file.read_f32(info);
        const auto want_values = want["values"].get<std::vector<double>>();
        REQUIRE(values.values().size() == want_values.size());
        std::size_t differ = 0;
        for (std::size_t i = 0; i < want_values.size(); ++i)
            differ += values.values()[i] != static_cast<float>(want_values[i]);
        CHECK(differ == 0);
        if (!want["layer"].is_null()) {
            const auto& layer = model.layer(want["layer"]);
            CHECK((layer.weight == name || layer.bias == name));
        }
    }
}

}  // namespace

TEST_CASE(
    "DequantizeLinear weights of every granularity and code type (int4 to int32 and float8) read "
    "dequantized") {
    check_against_golden("dequantize_linear");
}

TEST_CASE("weights the QLinear ops and Integer ops and MatMulNBits take read dequantized") {
    check_against_golden("operators");
}

TEST_CASE("a quantized weight makes the layer its op makes with its bias and the op's other constants") {
    const auto model = Model::open(data_path("onnx-quantized/operators.onnx"));
    const auto& conv = model.layer("qlconv");
    CHECK(conv.kind == LayerKind::Conv);
    CHECK(conv.weight == "qlconv.w_q");
    CHECK(conv.bias == "qlconv.b_q");
    CHECK(conv.others == std::vector<std::string>{"qlconv.x_scale", "qlconv.x_zero_point", "qlconv.y_scale",
                                                  "qlconv.y_zero_point"});
    const auto& nbits = model.layer("nbits_zp");
    CHECK(nbits.kind == LayerKind::Linear);
    CHECK(nbits.orientation == Orientation::OutFirst);
    CHECK(nbits.bias == "nbits_zp.bias");
    CHECK(model.layer("mmint_quant").orientation == Orientation::InOut);
    CHECK(model.layer("convint_quant").kind == LayerKind::Conv);
    // Every tensor is in exactly one layer: no activation scale grouped under a second "qlconv".
    std::size_t named_qlconv = 0;
    for (const auto& layer : model.layers())
        named_qlconv += layer.name == "qlconv";
    CHECK(named_qlconv == 1);

    const auto dq = Model::open(data_path("onnx-quantized/dequantize_linear.onnx"));
    const auto& gemm = dq.layer("gemm_blk");
    CHECK(gemm.orientation == Orientation::OutFirst);  // transB
    CHECK(dq.layer("conv_pc").bias == "conv_pc.b_q");
    CHECK(dq.layer("emb_i16").kind == LayerKind::Embedding);
    CHECK(dq.layer("mm_pt").orientation == Orientation::InOut);
}

TEST_CASE("a stored quantization's bytes are its parts' and inspect says what it is made of") {
    const auto model = Model::open(data_path("onnx-quantized/operators.onnx"));
    const auto& info = model.file().tensor("nbits_zp.qweight");
    // codes 3·3·8 bytes, 9 float scales, zero points 3 rows of ⌈3·4/8⌉ = 2 bytes
    CHECK(info.stored_size() == 72 + 36 + 6);
    CHECK(stored_type_name(info) == "uint4 blocks of 16");
    const auto inspection = inspect_model(model, false);
    const auto json = to_json(inspection);
    bool found = false;
    for (const auto& layer : json["layers"])
        for (const auto& tensor : layer["tensors"])
            if (tensor["name"] == "nbits_zp.qweight") {
                found = true;
                CHECK(tensor["bytes"] == 114);
                CHECK(tensor["quantization"]["form"] == "MatMulNBits");
                CHECK(tensor["quantization"]["bits"] == 4);
                CHECK(tensor["quantization"]["block_size"] == 16);
                CHECK(tensor["quantization"]["zero_points"]["name"] == "nbits_zp.qzeros");
            }
    CHECK(found);
    const auto table = to_table(inspection);
    CHECK_THAT(table, Catch::Contains("stored as MatMulNBits, 4-bit unsigned, blocks of 16 (axis 1): codes "
                                      "nbits_zp.qweight U8 [3, 3, 8]"));
}

TEST_CASE(
    "a quantized weight whose parts disagree is left out and said and a bad g_idx is an error on read") {
    const auto model = Model::open(data_path("onnx-quantized/malformed.onnx"));
    const auto& left_out = model.file().left_out();
    REQUIRE(left_out.size() == 1);
    CHECK(left_out[0].name == "bad_axis.w_q");
    CHECK(left_out[0].parameters == 12);
    CHECK_THAT(left_out[0].reason, Catch::Contains("needs 4 scales") && Catch::Contains("found 3"));
    CHECK_THROWS_AS(model.file().tensor("bad_axis.w_scale"), Error);
    const auto& info = model.file().tensor("bad_gidx.qweight");
    try {
        model.file().read_f32(info);
        FAIL("a g_idx naming block 5 of 2 was read");
    } catch (const Error& error) {
        CHECK_THAT(error.file(), Catch::EndsWith("malformed.onnx"));
        CHECK(error.where() == "bad_gidx.g_idx");
        CHECK_THAT(error.reason(), Catch::Contains("g_idx[31] is 5"));
    }
}

TEST_CASE("dequantizing a stored quantization follows onnxruntime's arithmetic") {
    StoredQuantization q;
    q.form = "DequantizeLinear";
    q.codes = {"c", DType::I8, {2, 2}, 4};
    q.scales = {"s", DType::F16, {2}, 4};
    q.shape = {2, 2};
    q.axis = 1;
    q.validate("test");
    const std::int8_t codes[] = {1, -3, 127, -128};
    const std::uint16_t scales[] = {0x2E66, 0x3C00};  // 0.1 in float16 (0.0999755859375), 1.0
    const auto out = dequantize_stored("test", q, std::as_bytes(std::span(codes)),
                                       std::as_bytes(std::span(scales)), {}, {}, {});
    // 127 × 0.0999755859375 = 12.696899…, which float16 rounds to 12.6953125 (a float16 output).
    CHECK(out == std::vector<float>{0.0999755859375f, -3.0f, 12.6953125f, -128.0f});
    q.scales.dtype = DType::F64;
    CHECK_THROWS_WITH(q.validate("test"), Catch::Contains("FLOAT, FLOAT16 or BFLOAT16"));
}

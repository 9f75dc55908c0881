// ONNX exports of a plan (onnx-qdq, onnx-matmulnbits) read back, through QuantLens's own ONNX
// reader, as exactly the preview's dequantized weights for every granularity they hold; refusals
// name the layer and write nothing. onnxruntime runs the same exports in
// tests/onnxruntime/export_check.sh.
#include <catch2/catch.hpp>

#include <filesystem>

#include "export/onnx_export.hpp"
#include "model/model.hpp"
#include "quant/stored_spec.hpp"
#include "tensor/stored_quantization.hpp"
#include "test_support.hpp"

using namespace quantlens;
using quantlens::test::data_path;

namespace {

struct Planned {
    std::string layer, spec, form;
};

// Exports `plan` of float_mlp.onnx in `format`, reopens the file and compares each planned
// layer's weights with what the preview gives for its spec.
void check_round_trip(const std::string& format, const std::vector<Planned>& plan,
                      const std::string& source = "onnx-export/float_mlp.onnx") {
    const auto model = Model::open(source.front() == '/' ? source : data_path(source));
    std::vector<LayerAssignment> assignments;
    for (const auto& entry : plan)
        assignments.push_back({&model.layer(entry.layer), QuantSpec::parse(entry.spec)});
    test::ScratchDir scratch;
    const auto out = scratch.file("out.onnx");
    const auto summary = export_onnx(model, assignments, format, out);
    CHECK(summary.quantized == plan.size());
    const auto exported = Model::open(out);
    if (source.find("ppocr") != std::string::npos)  // opset 9, which the converter cannot raise
        CHECK_THAT(summary.warnings.front(), Catch::Contains("com.microsoft"));
    for (const auto& [layer, spec] : assignments) {
        INFO(format << " " << layer->name << " " << spec.to_string());
        const auto& reread = exported.layer(layer->name);
        const auto& info = exported.file().tensor(reread.weight);
        REQUIRE(info.quantization);
        for (const auto& entry : plan)
            if (entry.layer == layer->name)
                CHECK(info.quantization->form == entry.form);
        // The stored form reads back as the spec that wrote it, at the width of the code type
        // (int3 is stored as INT8: the file cannot tell; nor sym:full from sym).
        const auto stored_spec = spec_of_stored(*info.quantization, reread.orientation);
        REQUIRE(stored_spec);
        const bool nibbles = spec.granularity == Granularity::Group && spec.bits <= 4;
        CHECK(stored_spec->bits == (format == "onnx-matmulnbits" ? spec.bits : nibbles ? 4 : 8));
        CHECK(stored_spec->symmetric == spec.symmetric);
        CHECK(stored_spec->granularity == spec.granularity);
        CHECK(stored_spec->group_size == spec.group_size);
        const auto weights = exported.read_weights(reread);
        PlannedLayerQuantizer quantizer;
        const auto& preview = quantizer.quantize(model, *layer, spec, nullptr);
        REQUIRE(weights.shape ==
                normalised_shape(model.file().tensor(layer->weight).shape, layer->orientation));
        const auto values = weights.values();
        REQUIRE(values.size() == preview.dequantized.size());
        std::size_t differ = 0;
        for (std::size_t i = 0; i < values.size(); ++i)
            differ += values[i] != preview.dequantized[i];
        CHECK(differ == 0);
    }
}

}  // namespace

TEST_CASE("an onnx-qdq export reads back as the preview's values per tensor and per channel and in blocks") {
    check_round_trip("onnx-qdq", {{"fc1", "int8:channel:sym", "DequantizeLinear"},
                                  {"fc2", "int4:g8:asym", "DequantizeLinear"},
                                  {"fc3", "int8:tensor:asym", "DequantizeLinear"}});
    check_round_trip("onnx-qdq", {{"fc1", "int4:g16:sym", "DequantizeLinear"},
                                  {"fc2", "int3:channel:asym", "DequantizeLinear"},
                                  {"fc3", "int8:g8:sym:full", "DequantizeLinear"}});
    check_round_trip("onnx-qdq", {{"fc1", "int6:tensor:sym:clip=mse", "DequantizeLinear"},
                                  {"fc3", "int2:g4:asym", "DequantizeLinear"}});
}

TEST_CASE("an onnx-matmulnbits export reads back as the preview's values at 2 4 and 8 bits") {
    check_round_trip("onnx-matmulnbits",
                     {{"fc1", "int4:g16:asym", "MatMulNBits"}, {"fc2", "int4:g16:sym", "MatMulNBits"}});
    check_round_trip("onnx-matmulnbits",
                     {{"fc1", "int8:g32:sym", "MatMulNBits"}, {"fc2", "int2:g16:asym", "MatMulNBits"}});
}

TEST_CASE(
    "PaddleOCR's opset-9 classifier exports per-channel through com.microsoft DequantizeLinear and reads "
    "back") {
    const auto path = test::external_path("ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx");
    const auto model = Model::open(path);
    std::vector<Planned> plan;
    for (const auto& layer : model.layers())
        if (layer.kind == LayerKind::Conv || layer.kind == LayerKind::Linear)
            plan.push_back({layer.name, "int8:channel:sym", "DequantizeLinear"});
    REQUIRE(plan.size() > 50);
    check_round_trip("onnx-qdq", plan, path);
}

TEST_CASE("weights in If branches and Loop bodies are exported where they live") {
    const auto model = Model::open(data_path("onnx-export/nested_weights.onnx"));
    std::vector<Planned> plan;
    for (const auto& layer : model.layers())
        if (layer.kind == LayerKind::Linear)
            plan.push_back({layer.name, "int8:channel:asym", "DequantizeLinear"});
    REQUIRE(plan.size() == 7);
    check_round_trip("onnx-qdq", plan, "onnx-export/nested_weights.onnx");
    // nested.onnx itself holds a tensor whose external file is missing: the export would lose it.
    const auto missing = Model::open(data_path("onnx-subgraphs/nested.onnx"));
    test::ScratchDir scratch;
    const std::vector<LayerAssignment> one{{&missing.layer("mm0"), QuantSpec::parse("int8:channel:sym")}};
    CHECK_THROWS_WITH(export_onnx(missing, one, "onnx-qdq", scratch.file("out.onnx")),
                      Catch::Contains("gone.bin") && Catch::Contains("an export would lose it"));
    CHECK_FALSE(std::filesystem::exists(scratch.file("out.onnx")));
}

TEST_CASE("weights an ONNX form cannot hold are refused by layer before anything is written") {
    const auto model = Model::open(data_path("onnx-export/float_mlp.onnx"));
    test::ScratchDir scratch;
    const auto out = scratch.file("out.onnx");
    auto refused = [&](const std::string& format, const std::string& layer, const std::string& spec,
                       const std::string& reason) {
        INFO(format << " " << layer << " " << spec);
        const std::vector<LayerAssignment> assignments{{&model.layer(layer), QuantSpec::parse(spec)}};
        try {
            export_onnx(model, assignments, format, out);
            FAIL("exported");
        } catch (const ExportRefused& error) {
            REQUIRE(error.refusals().size() == 1);
            CHECK(error.refusals()[0].layer == layer);
            CHECK_THAT(error.refusals()[0].reason, Catch::Contains(reason));
        }
        CHECK_FALSE(std::filesystem::exists(out));
    };
    refused("onnx-matmulnbits", "fc3", "int4:g16:asym", "MatMulNBits replaces a MatMul");
    refused("onnx-matmulnbits", "fc1", "int4:g24:asym", "power of two");
    refused("onnx-matmulnbits", "fc1", "int5:g16:asym", "2, 4 or 8 bits");
    refused("onnx-qdq", "fc1", "q4_0", "integer grids");
    refused("onnx-qdq", "fc1", "int4:g16:sym:rot=hadamard", "rotates the weights");
    refused("onnx-qdq", "fc1", "bf16", "cast");

    const auto old = Model::open(data_path("onnx-export/float_mlp_opset11.onnx"));
    const std::vector<LayerAssignment> blocked{{&old.layer("fc1"), QuantSpec::parse("int4:g16:sym")}};
    CHECK_THROWS_WITH(export_onnx(old, blocked, "onnx-qdq", out), Catch::Contains("opset 21"));
    const auto gguf = Model::open(test::sample_path("tiny-gpt2.gguf"));
    CHECK_THROWS_WITH(export_onnx(gguf, {}, "onnx-qdq", out), Catch::Contains("rewrites ONNX models"));
}

TEST_CASE("an f32 spec keeps an ONNX weight as it is") {
    const auto model = Model::open(data_path("onnx-export/float_mlp.onnx"));
    test::ScratchDir scratch;
    const auto out = scratch.file("out.onnx");
    const std::vector<LayerAssignment> assignments{{&model.layer("fc1"), QuantSpec::parse("f32")}};
    const auto summary = export_onnx(model, assignments, "onnx-qdq", out);
    CHECK(summary.quantized == 0);
    const auto exported = Model::open(out);
    const auto& info = exported.file().tensor("fc1.weight");
    CHECK_FALSE(info.quantization);
    const auto a = exported.file().read_f32(info);
    const auto b = model.file().read_f32(model.file().tensor("fc1.weight"));
    CHECK(std::equal(a.values().begin(), a.values().end(), b.values().begin(), b.values().end()));
}

TEST_CASE("a stored quantization that no spec describes says why") {
    const auto model = Model::open(data_path("onnx-quantized/operators.onnx"));
    std::string why;
    const auto& gidx = model.file().tensor("nbits_gidx.qweight");
    CHECK_FALSE(spec_of_stored(*gidx.quantization, Orientation::OutFirst, &why));
    CHECK_THAT(why, Catch::Contains("g_idx"));
    const auto& bias = model.file().tensor("qlconv.b_q");
    CHECK_FALSE(spec_of_stored(*bias.quantization, Orientation::OutFirst, &why));
    CHECK_THAT(why, Catch::Contains("32-bit"));
    const auto nozp =
        spec_of_stored(*model.file().tensor("nbits_nozp.qweight").quantization, Orientation::OutFirst);
    REQUIRE(nozp);
    CHECK(nozp->to_string() == "int4:g16:sym:full");
}

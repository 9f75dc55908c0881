#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "export/compressed_tensors.hpp"
#include "export_support.hpp"
#include "tensor/stored_quantization.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::int32_t> golden_int32(const ModelFile& file, const std::string& name) {
    const auto& info = file.tensor(name);
    REQUIRE(info.dtype == DType::I32);
    const auto bytes = file.read(info);
    std::vector<std::int32_t> values(bytes.bytes().size() / 4);
    std::memcpy(values.data(), bytes.bytes().data(), bytes.bytes().size());
    return values;
}

// int8 for q/k/v (vLLM fuses them: one scheme), int4 groups for the MLP, asymmetric channels
// for o_proj, symmetric f16-scaled groups for the head, and one Linear kept in f16.
QuantPlan mixed_plan(const Model& model) {
    std::map<std::string, std::string> layers = {{"model.embed_tokens", "f16"},
                                                 {"lm_head", "int4:g16:sym:scale=f16"}};
    for (const std::string block : {"model.layers.0.", "model.layers.1."}) {
        for (const auto* proj : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"})
            layers[block + proj] = "int8:channel:sym";
        layers[block + "self_attn.o_proj"] = block == "model.layers.0." ? "int4:channel:asym" : "f16";
        for (const auto* proj : {"mlp.gate_proj", "mlp.up_proj"})
            layers[block + proj] = "int4:g32:asym";
        layers[block + "mlp.down_proj"] = "int8:tensor:asym";
    }
    return plan_for(model, "", layers);
}

}  // namespace

TEST_CASE("pack-quantized words match compressed-tensors' packing, along rows and down columns") {
    const auto golden = open_model_file(data_path("golden/compressed_tensors_pack.npz"));
    for (int bits : {4, 8}) {
        INFO(bits << " bits");
        const auto values = golden_int32(*golden, "values" + std::to_string(bits));  // [5, 19]
        CHECK(pack_int32(values, 5, 19, bits) == golden_int32(*golden, "packed" + std::to_string(bits)));
        CHECK(pack_int32(values, 5, 19, bits, false) ==
              golden_int32(*golden, "packed" + std::to_string(bits) + "_dim0"));
        std::vector<std::int32_t> words, shifted(values);
        pack_rows_int32(values, 0, 5, 19, bits, words);  // the exporter's fast path: signed codes…
        CHECK(words == golden_int32(*golden, "packed" + std::to_string(bits)));
        for (auto& v : shifted)
            v += 1 << (bits - 1);  // …and unsigned asymmetric ones
        pack_rows_int32(shifted, 1 << (bits - 1), 5, 19, bits, words);
        CHECK(words == golden_int32(*golden, "packed" + std::to_string(bits)));
        const auto packed = pack_int32(values, 5, 19, bits);
        CHECK(unpack_int32(packed, 5, 19, bits) == values);
        const auto down = pack_int32(values, 5, 19, bits, false);
        CHECK(unpack_int32(down, 5, 19, bits, false) == values);
    }
}

TEST_CASE(
    "packed safetensors export: every layer unpacks to the preview's codes and dequantizes to its values bit "
    "for bit") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-llama"));
    const auto assignments = resolve_plan(mixed_plan(model), model, "plan.json");
    REQUIRE(assignments.size() == 16);
    const auto summary = export_packed_safetensors(model, assignments, dir.file("packed"));
    CHECK(summary.quantized == 16);

    const auto exported = Model::open(dir.file("packed"));
    const auto& config = exported.file().config();
    CHECK(config["model_type"] == "llama");  // the source's config, with quantization_config added
    const auto& quantization = config.at("quantization_config");
    CHECK(quantization["quant_method"] == "compressed-tensors");
    CHECK(quantization["format"] == "pack-quantized");
    CHECK(quantization["ignore"] == nlohmann::json::array({"model.layers.1.self_attn.o_proj"}));
    std::map<std::string, nlohmann::json> scheme_of;
    for (const auto& [name, group] : quantization["config_groups"].items())
        for (const auto& target : group["targets"])
            scheme_of[target.get<std::string>()] = group["weights"];
    CHECK(scheme_of.size() == 14);
    CHECK(scheme_of["lm_head"]["group_size"] == 16);
    CHECK(scheme_of["model.layers.0.mlp.up_proj"]["symmetric"] == false);

    for (const auto& [layer, spec] : assignments) {
        INFO(layer->name << " " << spec.to_string());
        const auto shown = preview(model, *layer, spec);
        const auto module = layer->weight.substr(0, layer->weight.size() - 7);
        if (spec.is_cast()) {
            const auto& info = exported.file().tensor(layer->weight);
            CHECK(info.dtype == DType::F16);
            const auto written = exported.file().read_f32(info);
            CHECK(std::memcmp(written.values().data(), shown.dequantized.data(),
                              shown.dequantized.size() * 4) == 0);
            continue;
        }
        const auto values = dequantize_packed_module(exported.file(), module, scheme_of.at(module));
        REQUIRE(values.size() == shown.dequantized.size());
        CHECK(std::memcmp(values.data(), shown.dequantized.data(), values.size() * 4) == 0);
        // QuantLens's own reader lists the parts as one weight of the same values
        const auto& folded = exported.file().tensor(layer->weight);
        REQUIRE(folded.quantization);
        CHECK(folded.quantization->form == "compressed-tensors");
        const auto read_back = exported.file().read_f32(folded);
        REQUIRE(read_back.values().size() == shown.dequantized.size());
        CHECK(std::memcmp(read_back.values().data(), shown.dequantized.data(), values.size() * 4) == 0);
        // the codes themselves, as a loader unpacks them
        const auto& packed = exported.file().tensor_or_part(module + ".weight_packed");
        CHECK(packed.shape == std::vector<std::int64_t>{shown.rows, (shown.cols * spec.bits + 31) / 32});
        const auto bytes = exported.file().read(packed);
        std::vector<std::int32_t> words(bytes.bytes().size() / 4);
        std::memcpy(words.data(), bytes.bytes().data(), bytes.bytes().size());
        const auto codes = unpack_int32(words, shown.rows, shown.cols, spec.bits);
        const std::int32_t offset = spec.symmetric ? 0 : 1 << (spec.bits - 1);
        bool same = true;
        for (std::size_t i = 0; i < codes.size(); ++i)
            same = same && codes[i] == shown.codes[i] - offset;
        CHECK(same);
        CHECK(exported.file().tensor_or_part(module + ".weight_scale").dtype ==
              (spec.scale_storage == ScaleStorage::F16 ? DType::F16 : DType::F32));
        CHECK(folded.quantization->zero_points.has_value() == !spec.symmetric);
    }
    // tensors the plan leaves alone are carried over byte for byte
    for (const auto* name : {"model.norm.weight", "model.layers.0.input_layernorm.weight"}) {
        const auto a = model.file().read(model.file().tensor(name));
        const auto b = exported.file().read(exported.file().tensor(name));
        CHECK(std::memcmp(a.bytes().data(), b.bytes().data(), a.bytes().size()) == 0);
    }
}

TEST_CASE("packed safetensors export checks the plan layer by layer before writing") {
    ScratchDir dir;
    const auto llama = Model::open(sample_path("tiny-llama"));
    auto plan = plan_for(llama, "int4:g48:sym",
                         {{"model.embed_tokens", "int8:channel:sym"},
                          {"model.layers.0.self_attn.k_proj", "int8:channel:sym"},
                          {"model.layers.1.mlp.down_proj", "nf4:g64"}});
    const auto assignments = resolve_plan(plan, llama, "p");
    CHECK_THROWS_WITH(
        export_packed_safetensors(llama, assignments, dir.file("out")),
        Catch::Contains("model.embed_tokens: is not a Linear layer (embedding); compressed-tensors packs "
                        "Linear layers only") &&
            Catch::Contains(
                "model.layers.0.self_attn.q_proj: group size 48 does not divide its 64 input columns") &&
            Catch::Contains("model.layers.1.mlp.down_proj: nf4:g64 is not a pack-quantized scheme"));
    CHECK(fs::is_empty(dir.path()));

    const auto fused = resolve_plan(
        plan_for(llama, "int4:g32:sym",
                 {{"model.embed_tokens", "f16"}, {"model.layers.0.self_attn.k_proj", "int8:channel:sym"}}),
        llama, "p");
    CHECK_THROWS_WITH(export_packed_safetensors(llama, fused, dir.file("out")),
                      Catch::Contains("model.layers.0.self_attn.k_proj: differs from "
                                      "model.layers.0.self_attn.q_proj; vLLM fuses them"));

    const auto gpt2 = Model::open(sample_path("tiny-gpt2"));
    CHECK_THROWS_WITH(
        export_packed_safetensors(
            gpt2,
            resolve_plan(
                plan_for(gpt2, "int4:g32:sym", {{"transformer.wte", "f16"}, {"transformer.wpe", "f16"}}),
                gpt2, "p"),
            dir.file("out")),
        Catch::Contains("transformer.h.0.attn.c_attn: stores its weight [in, out] (GPT-2's Conv1D)"));
    CHECK(fs::is_empty(dir.path()));
}

TEST_CASE("reading a pack-quantized module checks every size against weight_shape") {
    ScratchDir dir;
    const std::vector<std::int64_t> shape{1000, 1000};
    const std::vector<std::int32_t> words(4, 0);
    const std::vector<float> scales(2, 1.0f);
    write_safetensors(dir.file("bad.safetensors"),
                      {{"m.weight_shape", DType::I64, {2}, as_bytes_of(shape)},
                       {"m.weight_packed", DType::I32, {2, 2}, as_bytes_of(words)},
                       {"m.weight_scale", DType::F32, {2, 1}, as_bytes_of(scales)}});
    const auto file = open_model_file(dir.file("bad.safetensors"));
    const nlohmann::json weights = {{"num_bits", 4}, {"symmetric", true}, {"strategy", "channel"}};
    CHECK_THROWS_WITH(dequantize_packed_module(*file, "m", weights),
                      Catch::Contains("m.weight_packed: must be I32 [1000, 125], found I32 [2, 2]"));
    CHECK_THROWS_WITH(
        dequantize_packed_module(*file, "m", {{"num_bits", 3}, {"symmetric", true}, {"strategy", "channel"}}),
        Catch::Contains("unsupported pack-quantized scheme"));
    CHECK_THROWS_WITH(dequantize_packed_module(*file, "m", {{"num_bits", 4}}),
                      Catch::Contains("quantization_config weights"));
}

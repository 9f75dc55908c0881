#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "export/fakequant_export.hpp"
#include "io/output_marker.hpp"
#include "export_support.hpp"
#include "io/gguf.hpp"
#include "tensor/convert.hpp"
#include "test_support.hpp"
#include "util/mapped_file.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

namespace {

// Every planned layer reads back as the preview's dequantized values (after `expected`, the
// rounding to the written dtype), and every other tensor byte for byte.
void check_round_trip(
    const Model& model, const std::vector<LayerAssignment>& assignments, const Model& exported,
    const std::function<std::vector<float>(const TensorInfo&, std::vector<float>)>& expected) {
    std::set<std::string> planned;
    for (const auto& [layer, spec] : assignments) {
        INFO(layer->name << " " << spec.to_string());
        planned.insert(layer->weight);
        const auto shown = preview(model, *layer, spec);
        const auto want = expected(exported.file().tensor(layer->weight), shown.dequantized);
        const auto written = exported.read_weights(exported.layer(layer->name));
        REQUIRE(written.values().size() == want.size());
        CHECK(std::memcmp(written.values().data(), want.data(), want.size() * 4) == 0);
        CHECK(shown.metrics.mse > 0);  // the layer really changed
    }
    for (const auto& info : model.file().tensors()) {
        if (planned.count(info.name))
            continue;
        INFO(info.name);
        const auto a = model.file().read(info);
        const auto b = exported.file().read(exported.file().tensor(info.name));
        REQUIRE(a.bytes().size() == b.bytes().size());
        CHECK(std::memcmp(a.bytes().data(), b.bytes().data(), a.bytes().size()) == 0);
    }
}

const auto as_is = [](const TensorInfo&, std::vector<float> values) {
    return values;
};

}  // namespace

TEST_CASE(
    "fake-quant export of a Hugging Face folder: the preview's values in the source's layout, the rest "
    "carried over") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-gpt2"));  // GPT-2 Conv1D weights are stored [in, out]
    const auto plan =
        plan_for(model, "int4:g32:asym",
                 {{"transformer.wte", "int8:channel:sym"}, {"transformer.h.0.attn.c_attn", "nf4:g64"}});
    const auto assignments = resolve_plan(plan, model, "plan.json");
    REQUIRE(assignments.size() == 10);  // wte, wpe and 4 linear layers in each of 2 blocks
    const auto summary = export_fakequant(model, assignments, dir.file("out"));
    CHECK(summary.quantized == 10);
    CHECK(fs::exists(dir.file("out/config.json")));
    const auto exported = Model::open(dir.file("out"));
    CHECK(exported.architecture() == "gpt2");
    check_round_trip(model, assignments, exported, as_is);

    // the same plan on the same model: the same bytes
    export_fakequant(model, assignments, dir.file("again"));
    CHECK(read_bytes(dir.file("again/model.safetensors")) == read_bytes(dir.file("out/model.safetensors")));
    // exporting over an earlier export is refused unless the output guard approved it (--force) ...
    const auto other_plan = resolve_plan(plan_for(model, "int8:channel:sym"), model, "p");
    CHECK_THROWS_WITH(export_fakequant(model, other_plan, dir.file("again")),
                      Catch::Contains("not allowed to replace it"));
    CHECK(read_bytes(dir.file("again/model.safetensors")) == read_bytes(dir.file("out/model.safetensors")));
    // ... and then replaces it whole
    guard_output({dir.file("again"), OutputShape::Folder, {sample_path("tiny-gpt2")}, true});
    export_fakequant(model, other_plan, dir.file("again"));
    CHECK(read_bytes(dir.file("again/model.safetensors")) != read_bytes(dir.file("out/model.safetensors")));
    CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) ==
          2);  // no temporary left beside them
}

TEST_CASE("fake-quant export of a Keras .h5 keeps the file's groups and model_config") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto assignments = resolve_plan(plan_for(model, "int4:channel:asym"), model, "plan.json");
    REQUIRE(assignments.size() == 2);
    export_fakequant(model, assignments, dir.file("out.h5"));
    const auto exported = Model::open(dir.file("out.h5"));
    CHECK(exported.file().format() == "keras-h5");
    CHECK(exported.layers().size() == model.layers().size());
    check_round_trip(model, assignments, exported, as_is);
}

TEST_CASE("fake-quant export of a Keras .h5 writes a fresh file: no residue of the source's deleted data") {
    ScratchDir dir;
    const auto source = data_path("hostile/keras-residue.h5");  // tests/data/hostile/generate_hostile.py
    const std::string marker = "QUANTLENS-RESIDUE-";
    auto holds_marker = [&marker](const std::string& path) {
        const auto bytes = read_bytes(path);
        return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()).find(marker) !=
               std::string_view::npos;
    };
    REQUIRE(holds_marker(source));  // HDF5 keeps a deleted dataset's bytes in the file
    const auto model = Model::open(source);
    const auto assignments = resolve_plan(plan_for(model, "int8:channel:sym"), model, "plan.json");
    export_fakequant(model, assignments, dir.file("out.h5"));
    CHECK_FALSE(holds_marker(dir.file("out.h5")));  // a copy of the source would carry them
    const auto exported = Model::open(dir.file("out.h5"));
    CHECK(exported.file().format() == "keras-h5");
    CHECK(exported.file().config() == model.file().config());  // model_config, attribute for attribute
    CHECK(exported.file().metadata() == model.file().metadata());
    check_round_trip(model, assignments, exported, as_is);
}

TEST_CASE("fake-quant export of a GGUF: float weights keep their dtype, block-quantized ones become F32") {
    ScratchDir dir;
    const auto model =
        Model::open(sample_path("tiny-gpt2.gguf"));  // token_embd F16, attn_qkv Q8_0, ffn_up Q4_0
    const auto assignments = resolve_plan(plan_for(model, "int4:g32:sym"), model, "plan.json");
    REQUIRE(assignments.size() == 3);
    export_fakequant(model, assignments, dir.file("out.gguf"));
    const auto exported = Model::open(dir.file("out.gguf"));
    CHECK(exported.file().tensor("token_embd.weight").dtype == DType::F16);
    CHECK(exported.file().tensor("blk.0.ffn_up.weight").dtype == DType::F32);
    check_round_trip(model, assignments, exported, [](const TensorInfo& info, std::vector<float> values) {
        if (info.dtype == DType::F16)
            for (auto& v : values)
                v = f16_to_f32(f32_to_f16(v));
        return values;
    });
    const auto before = parse_gguf(MappedFile::open(model.file().path())->bytes(), "in");
    const auto after = parse_gguf(MappedFile::open(dir.file("out.gguf"))->bytes(), "out");
    REQUIRE(after.metadata.size() == before.metadata.size() + 1);  // carried over, plus QuantLens's mark
    for (std::size_t i = 0; i < before.metadata.size(); ++i)
        CHECK(after.metadata[i].raw == before.metadata[i].raw);
    CHECK(after.metadata.back().key == "quantlens.writer");
}

TEST_CASE("fake-quant export refuses what it cannot write, and a cancel leaves nothing") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-gpt2"));
    const auto assignments = resolve_plan(plan_for(model, "int4:g32:asym"), model, "plan.json");
    CHECK_THROWS_WITH(export_fakequant(model, assignments, sample_path("tiny-gpt2")),
                      Catch::Contains("is the input"));
    CHECK_THROWS_WITH(export_fakequant(model, assignments, sample_path("tiny-gpt2/out")),
                      Catch::Contains("lies inside the input folder"));
    CHECK_THROWS_WITH(
        export_fakequant(model, resolve_plan(plan_for(model, "int4:g32:asym:round=gptq"), model, "p"),
                         dir.file("x")),
        Catch::Contains("transformer.h.0.mlp.c_fc: int4:g32:asym:round=gptq rounds with GPTQ"));

    CancelToken cancel;
    int calls = 0;
    auto stop_midway = [&](std::uint64_t, std::uint64_t, std::string_view) {
        if (++calls == 10)
            cancel.cancel();
    };
    CHECK_THROWS_AS(export_fakequant(model, assignments, dir.file("out"), stop_midway, &cancel), Cancelled);
    CHECK(fs::is_empty(dir.path()));  // neither the folder nor its temporary

    const auto npz = Model::open(sample_path("tiny-gpt2-block0.npz"));
    CHECK_THROWS_WITH(
        export_fakequant(npz, resolve_plan(plan_for(npz, "int8:channel:sym"), npz, "p"), dir.file("x.npz")),
        Catch::Contains("writes safetensors, GGUF and HDF5/Keras models"));
}

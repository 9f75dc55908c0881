#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>

#include "alloc/plan.hpp"
#include "export/gguf_export.hpp"
#include "io/gguf.hpp"
#include "model/model_identity.hpp"
#include "quant/ggml_quantizer.hpp"
#include "quant/quantizer.hpp"
#include "test_support.hpp"
#include "util/mapped_file.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

namespace {

QuantPlan gguf_plan(const Model& model) {
    QuantPlan plan;
    plan.model_path = model.file().path();
    plan.model_identity = hex64(model_identity(model.file().path()).content);
    plan.default_spec = QuantSpec::parse("q4_0");
    plan.layers = {{"token_embd", QuantSpec::parse("q8_0")}};
    return plan;
}

}  // namespace

TEST_CASE("GGUF export: planned tensors equal the preview bit for bit, everything else is carried over") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-gpt2.gguf"));
    const auto assignments = resolve_plan(gguf_plan(model), model, "plan.json");
    REQUIRE(assignments.size() == 3);
    const auto summary = export_gguf(model, assignments, dir.file("out.gguf"));
    CHECK(summary.quantized == 3);
    const auto exported = Model::open(dir.file("out.gguf"));
    CHECK(exported.file().tensors().size() == model.file().tensors().size());

    for (const auto& [layer, spec] : assignments) {
        INFO(layer->name);
        const auto& info = exported.file().tensor(layer->weight);
        CHECK(info.dtype == *ggml_dtype_of(spec));
        const auto source = model.read_weights(*layer);
        const auto preview = quantize(as_matrix(source.values(), source.shape), spec);
        const auto written = exported.read_weights(exported.layer(layer->name));
        REQUIRE(written.values().size() == preview.dequantized.size());
        CHECK(std::memcmp(written.values().data(), preview.dequantized.data(),
                          preview.dequantized.size() * 4) == 0);
        // and the blocks are llama.cpp's reference quantizer's bytes
        const auto stored = exported.file().read(info);
        std::vector<std::uint8_t> reference(stored.bytes().size());
        const auto source_values = model.file().read_f32(model.file().tensor(layer->weight));
        quantize_ggml_row_reference(info.dtype, source_values.values(), reference);
        CHECK(std::memcmp(stored.bytes().data(), reference.data(), reference.size()) == 0);
    }
    for (const auto& info : model.file().tensors()) {
        bool planned = false;
        for (const auto& [layer, spec] : assignments)
            planned = planned || layer->weight == info.name;
        if (planned)
            continue;
        INFO(info.name);
        const auto a = model.file().read(info);
        const auto b = exported.file().read(exported.file().tensor(info.name));
        CHECK(a.bytes().size() == b.bytes().size());
        CHECK(std::memcmp(a.bytes().data(), b.bytes().data(), a.bytes().size()) == 0);
    }
    // every metadata key, tokenizer included, byte for byte
    const auto before = parse_gguf(MappedFile::open(model.file().path())->bytes(), "in");
    const auto after = parse_gguf(MappedFile::open(dir.file("out.gguf"))->bytes(), "out");
    for (const auto& kv : before.metadata) {
        INFO(kv.key);
        bool same = false;
        for (const auto& other : after.metadata)
            same = same || (other.key == kv.key && other.type == kv.type && other.raw == kv.raw);
        CHECK(same);
    }
    // the same plan on the same model: the same bytes
    export_gguf(model, assignments, dir.file("again.gguf"));
    CHECK(read_bytes(dir.file("again.gguf")) == read_bytes(dir.file("out.gguf")));
}

TEST_CASE("GGUF export checks the whole plan before writing and leaves nothing when it stops") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-gpt2.gguf"));
    auto plan = gguf_plan(model);
    plan.default_spec = QuantSpec::parse("int4:g32:asym");
    CHECK_THROWS_WITH(export_gguf(model, resolve_plan(plan, model, "p"), dir.file("out.gguf")),
                      Catch::Contains("blk.0.attn_qkv: int4:g32:asym is not a ggml type") &&
                          Catch::Contains("blk.0.ffn_up: int4:g32:asym"));
    CHECK(fs::is_empty(dir.path()));

    const auto assignments = resolve_plan(gguf_plan(model), model, "p");
    CHECK_THROWS_WITH(export_gguf(model, assignments, model.file().path()), Catch::Contains("is the input"));

    CancelToken cancel;
    int calls = 0;
    auto stop_midway = [&](std::uint64_t, std::uint64_t, std::string_view) {
        if (++calls == 3)
            cancel.cancel();
    };
    CHECK_THROWS_AS(export_gguf(model, assignments, dir.file("out.gguf"), stop_midway, &cancel), Cancelled);
    CHECK(fs::is_empty(dir.path()));  // neither the output nor a temporary file

    const auto hf = Model::open(sample_path("tiny-gpt2"));
    CHECK_THROWS_WITH(export_gguf(hf, {}, dir.file("x.gguf")), Catch::Contains("convert_hf_to_gguf"));
}

TEST_CASE(
    "a GGUF holding a tensor of an unknown ggml type opens and inspects, and its export says why it stops") {
    ScratchDir dir;
    const auto source = dir.file("newer.gguf");
    fs::copy_file(sample_path("tiny-gpt2.gguf"), source);
    const auto original = Model::open(source);
    const auto& victim = original.file().tensors().back();
    const std::string name = victim.name;
    relabel_gguf_tensor_type(source, name, 99);
    const auto model = Model::open(source);
    CHECK(stored_type_name(model.file().tensor(name)) == "ggml type 99 (unknown)");
    CHECK_THROWS_WITH(export_gguf(model, resolve_plan(gguf_plan(model), model, "p"), dir.file("out.gguf")),
                      Catch::Contains(name + ": is stored as ggml type 99 (unknown)"));
    CHECK_FALSE(fs::exists(dir.file("out.gguf")));
}

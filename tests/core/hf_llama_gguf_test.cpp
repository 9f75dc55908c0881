#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "export/gguf_export.hpp"
#include "export/hf_llama_gguf.hpp"
#include "export_support.hpp"
#include "io/gguf.hpp"
#include "quant/ggml_quantizer.hpp"
#include "test_support.hpp"
#include "util/mapped_file.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

namespace {

std::vector<float> golden_f32(const std::string& npz, const std::string& name) {
    const auto file = open_model_file(data_path("golden/" + npz));
    const auto values = file->read_f32(file->tensor(name));
    return {values.values().begin(), values.values().end()};
}

nlohmann::json metadata_of(const std::string& path) {
    nlohmann::json result;
    for (const auto& kv : parse_gguf(MappedFile::open(path)->bytes(), path).metadata)
        result[kv.key] = kv.value;
    return result;
}

}  // namespace

TEST_CASE(
    "a Hugging Face llama becomes llama.cpp's GGUF: names, architecture keys and the q/k row permutation") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-llama"));
    const auto summary =
        export_gguf(model, {}, dir.file("f32.gguf"));  // nothing planned: every tensor as stored
    CHECK(summary.tensors == 21);
    CHECK_FALSE(summary.warnings.empty());  // no tokenizer converted, and it says so

    const auto metadata = metadata_of(dir.file("f32.gguf"));
    CHECK(metadata["general.architecture"] == "llama");
    CHECK(metadata["llama.embedding_length"] == 64);
    CHECK(metadata["llama.block_count"] == 2);
    CHECK(metadata["llama.feed_forward_length"] == 128);
    CHECK(metadata["llama.attention.head_count"] == 4);
    CHECK(metadata["llama.attention.head_count_kv"] == 2);
    CHECK(metadata["llama.rope.dimension_count"] == 16);
    CHECK(metadata["llama.context_length"] == 128);
    CHECK(metadata["llama.vocab_size"] == 256);
    CHECK(metadata["llama.attention.layer_norm_rms_epsilon"].get<double>() == Approx(1e-5));
    CHECK(metadata["tokenizer.ggml.model"] == "no_vocab");
    CHECK(metadata["general.file_type"] == 0);

    const auto exported = Model::open(dir.file("f32.gguf"));
    for (const auto* name :
         {"token_embd.weight", "blk.1.attn_norm.weight", "blk.0.attn_output.weight", "blk.1.ffn_gate.weight",
          "blk.0.ffn_down.weight", "blk.0.ffn_norm.weight", "output_norm.weight", "output.weight"})
        CHECK(exported.file().tensor(name).dtype == DType::F32);
    // q and k rows in llama.cpp's order (golden: convert_hf_to_gguf.py's permute, in PyTorch)
    for (const auto& [gguf_name, golden_name] :
         {std::pair{"blk.0.attn_q.weight", "attn_q"}, std::pair{"blk.0.attn_k.weight", "attn_k"}}) {
        INFO(gguf_name);
        const auto written = exported.file().read_f32(exported.file().tensor(gguf_name));
        const auto golden = golden_f32("llama_gguf_permuted.npz", golden_name);
        REQUIRE(written.values().size() == golden.size());
        CHECK(std::memcmp(written.values().data(), golden.data(), golden.size() * 4) == 0);
    }
    // v is not permuted
    const auto v = exported.file().read_f32(exported.file().tensor("blk.0.attn_v.weight"));
    const auto source_v =
        model.file().read_f32(model.file().tensor("model.layers.0.self_attn.v_proj.weight"));
    CHECK(std::memcmp(v.values().data(), source_v.values().data(), source_v.values().size() * 4) == 0);
}

TEST_CASE("a planned llama GGUF holds llama.cpp's reference blocks of the permuted rows") {
    ScratchDir dir;
    const auto model = Model::open(sample_path("tiny-llama"));
    const auto plan = plan_for(model, "q4_0", {{"model.embed_tokens", "q8_0"}, {"lm_head", "f16"}});
    export_gguf(model, resolve_plan(plan, model, "p"), dir.file("q.gguf"));
    const auto exported = Model::open(dir.file("q.gguf"));
    const auto& attn_q = exported.file().tensor("blk.0.attn_q.weight");
    CHECK(attn_q.dtype == DType::Q4_0);
    CHECK(exported.file().tensor("token_embd.weight").dtype == DType::Q8_0);
    CHECK(exported.file().tensor("output.weight").dtype == DType::F16);
    CHECK(exported.file().tensor("output_norm.weight").dtype == DType::F32);
    const auto golden = golden_f32("llama_gguf_permuted.npz", "attn_q");
    std::vector<std::uint8_t> reference(attn_q.byte_size);
    quantize_ggml_row_reference(DType::Q4_0, golden, reference);
    const auto stored = exported.file().read(attn_q);
    CHECK(std::memcmp(stored.bytes().data(), reference.data(), reference.size()) == 0);
    const auto metadata = metadata_of(dir.file("q.gguf"));
    CHECK(metadata["general.file_type"] == 2);  // LLAMA_FTYPE_MOSTLY_Q4_0
    CHECK(metadata["general.quantization_version"] == 2);
}

TEST_CASE("llama GGUF export names the config field it needs and the tensors it does not know") {
    ScratchDir dir;
    fs::create_directories(dir.file("llama"));
    fs::copy_file(sample_path("tiny-llama/model.safetensors"), dir.file("llama/model.safetensors"));
    auto config = nlohmann::json::parse(read_bytes(sample_path("tiny-llama/config.json")));
    config.erase("num_hidden_layers");
    write_bytes(dir.file("llama/config.json"), config.dump());
    const auto model = Model::open(dir.file("llama"));
    CHECK_THROWS_WITH(export_gguf(model, {}, dir.file("out.gguf")),
                      Catch::Contains("config.json: num_hidden_layers: llama config.json needs this field"));
    config = nlohmann::json::parse(read_bytes(sample_path("tiny-llama/config.json")));
    config["num_key_value_heads"] = 3;
    write_bytes(dir.file("llama/config.json"), config.dump());
    const auto mismatched = Model::open(dir.file("llama"));
    CHECK_THROWS_WITH(export_gguf(mismatched, {}, dir.file("out.gguf")),
                      Catch::Contains("config.json: num_key_value_heads: 3 heads of dimension 16 do not "
                                      "match model.layers.0.self_attn.k_proj.weight of shape [32, 64]"));
    CHECK_THROWS_WITH(llama_cpp_tensor_name("model.layers.0.self_attn.qkv.weight", "m"),
                      Catch::Contains("not a tensor of the llama architecture"));
    CHECK(llama_cpp_tensor_name("model.layers.3.self_attn.rotary_emb.inv_freq", "m").empty());
    CHECK_FALSE(fs::exists(dir.file("out.gguf")));
}

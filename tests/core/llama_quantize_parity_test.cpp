// QuantLens's GGUF export against llama-quantize itself. A small llama (hidden 256, one block,
// GQA 2:1, F16 weights with outlier columns) is written as a Hugging Face folder, converted by
// QuantLens to an F16 GGUF, and exported to each single-type plan, with and without an
// importance matrix QuantLens writes. Every quantized tensor must equal, byte for byte, what
// `llama-quantize --pure [--imatrix]` writes from that F16 GGUF:
// tests/data/golden/llama_quantize_digests.json holds XXH3-128 digests of llama-quantize's
// tensors, made by samples/ggml/make_quantize_goldens.py from llama.cpp built outside the
// repository (the hidden test case below writes the inputs it runs llama-quantize on).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "alloc/llama_mix.hpp"
#include "alloc/plan.hpp"
#include "export/gguf_export.hpp"
#include "export_support.hpp"
#include "io/imatrix.hpp"
#include "io/safetensors.hpp"
#include "tensor/convert.hpp"
#include "test_support.hpp"
#include "util/content_hash.hpp"

using namespace quantlens;
using namespace quantlens::test;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kHidden = 256, kFfn = 512, kVocab = 32;
// The mixes' model: sixteen blocks (so the first and last eighths and every third block between
// differ) with grouped-query attention of 4 (attn_v rules that depend on it).
constexpr int kMixLayers = 16, kMixHeads = 8, kMixKvHeads = 2;

// Deterministic weights: small Gaussian-like values, every 37th column ten times larger (the
// outliers an importance matrix is for), stored as F16.
std::vector<std::uint16_t> weights_f16(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
    std::uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    auto next = [&] {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return static_cast<float>((z ^ (z >> 31)) >> 40) / 16777216.0f;
    };
    std::vector<std::uint16_t> out(static_cast<std::size_t>(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            const float u = next() + next() + next() - 1.5f;
            out[static_cast<std::size_t>(r * cols + c)] =
                f32_to_f16(0.03f * u * (c % 37 == 3 ? 10.0f : 1.0f));
        }
    return out;
}

// The Hugging Face folder and the F16 GGUF QuantLens converts it to.
struct ParityModel {
    ScratchDir dir;
    std::string folder = dir.file("hf"), gguf = dir.file("model.f16.gguf"),
                imatrix = dir.file("imatrix.gguf");

    // `layers` blocks of a llama with hidden size 256 and `heads` attention heads sharing
    // `kv_heads` key/value heads (weights seeded by position, so one block gives the same
    // tensors whatever the count).
    explicit ParityModel(int layers = 1, int heads = 2, int kv_heads = 1) {
        fs::create_directory(folder);
        std::ofstream(folder + "/config.json")
            << R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32,
                  "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": )"
            << layers << R"(, "num_attention_heads": )" << heads << R"(, "num_key_value_heads": )" << kv_heads
            << R"(, "max_position_embeddings": 128, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
                  "torch_dtype": "float16"})";
        const std::int64_t kv = kHidden / heads * kv_heads;
        std::vector<std::pair<std::string, std::array<std::int64_t, 2>>> shapes = {
            {"model.embed_tokens.weight", {kVocab, kHidden}}};
        for (int l = 0; l < layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            shapes.insert(shapes.end(), {{p + "self_attn.q_proj.weight", {kHidden, kHidden}},
                                         {p + "self_attn.k_proj.weight", {kv, kHidden}},
                                         {p + "self_attn.v_proj.weight", {kv, kHidden}},
                                         {p + "self_attn.o_proj.weight", {kHidden, kHidden}},
                                         {p + "mlp.gate_proj.weight", {kFfn, kHidden}},
                                         {p + "mlp.up_proj.weight", {kFfn, kHidden}},
                                         {p + "mlp.down_proj.weight", {kHidden, kFfn}}});
        }
        shapes.push_back({"lm_head.weight", {kVocab, kHidden}});
        std::vector<std::vector<std::uint16_t>> data;
        std::vector<TensorToWrite> tensors;
        for (const auto& [name, shape] : shapes)
            data.push_back(weights_f16(shape[0], shape[1], data.size() + 1));
        const std::vector<std::uint16_t> ones(kHidden, f32_to_f16(1.0f));
        for (std::size_t i = 0; i < shapes.size(); ++i)
            tensors.push_back({shapes[i].first,
                               DType::F16,
                               {shapes[i].second[0], shapes[i].second[1]},
                               as_bytes_of(data[i])});
        std::vector<std::string> norms = {"model.norm.weight"};
        for (int l = 0; l < layers; ++l)
            for (const char* norm : {"input_layernorm.weight", "post_attention_layernorm.weight"})
                norms.push_back("model.layers." + std::to_string(l) + "." + norm);
        for (const auto& norm : norms)
            tensors.push_back({norm, DType::F16, {kHidden}, as_bytes_of(ones)});
        write_safetensors(folder + "/model.safetensors", tensors, {});
        const auto hf = Model::open(folder);
        export_gguf(hf, resolve_plan(plan_for(hf, "f16"), hf, "plan"), gguf);
        write_importance_matrix(imatrix, importance_for(Model::open(gguf)));
    }

    // Σx² per column as llama-imatrix would have gathered it over 100 tokens: a smooth profile
    // with some columns far more active, and one never-active column per tensor.
    static ImportanceMatrix importance_for(const Model& model) {
        ImportanceMatrix matrix;
        matrix.datasets = {"quantlens-parity"};
        matrix.chunk_count = 1;
        matrix.chunk_size = 100;
        for (const auto& layer : model.layers()) {
            const auto& info = model.file().tensor(layer.weight);
            if (info.shape.size() != 2 || layer.weight == "token_embd.weight")
                continue;
            ImportanceEntry entry;
            for (std::int64_t c = 0; c < info.shape[1]; ++c)
                entry.sums.push_back(c == 5 ? 0.0f
                                            : 100.0f * (1.0f + std::sin(0.1f * c)) * (c % 19 == 0 ? 50 : 1));
            entry.counts = {100};
            matrix.entries.emplace(layer.weight, entry);
        }
        return matrix;
    }
};

}  // namespace

TEST_CASE(
    "GGUF exports of every ggml type QuantLens writes equal llama-quantize's tensors, with and without an "
    "imatrix") {
    const ParityModel parity;
    std::ifstream in(data_path("golden/llama_quantize_digests.json"));
    const auto golden = nlohmann::json::parse(in);
    REQUIRE(golden.at("runs").size() >= 45);
    std::size_t refusals = 0;
    for (const auto& run : golden.at("runs")) {
        const std::string type = run.at("type"), spec = run.at("spec");
        const bool weighted = run.at("imatrix"), embd_f16 = run.value("token_embd_f16", false);
        INFO(spec << (weighted ? " with --imatrix" : "") << (embd_f16 ? ", token_embd F16" : ""));
        // From the F16 GGUF, as llama-quantize reads it, and straight from the Hugging Face folder
        // (llama.cpp's names and q/k row order, and the imatrix found by those names).
        for (const auto& source : {parity.gguf, parity.folder}) {
            INFO("from " << source);
            auto model = Model::open(source);
            if (weighted)
                model.attach_importance(
                    std::make_shared<const ImportanceMatrix>(read_importance_matrix(parity.imatrix)));
            const auto out = parity.dir.file("out.gguf");
            fs::remove(out);
            std::map<std::string, std::string> overrides;
            for (const auto& layer : model.layers())
                if (embd_f16 && model.llama_cpp_name(layer) == "token_embd.weight")
                    overrides[layer.name] = "f16";
            const auto plan = resolve_plan(plan_for(model, spec, overrides), model, "plan");
            if (run.value("refused", false)) {
                // llama-quantize stopped (the grid i-quants without the importance matrix they
                // need): so does the export, naming what is missing, and writes nothing.
                CHECK_THROWS_WITH(export_gguf(model, plan, out), Catch::Contains("importance matrix"));
                CHECK_FALSE(fs::exists(out));
                ++refusals;
                continue;
            }
            export_gguf(model, plan, out);
            const auto exported = Model::open(out);
            std::size_t compared = 0;
            for (const auto& [tensor, digest] : run.at("tensors").items()) {
                INFO(tensor);
                const auto& info = exported.file().tensor(tensor);
                CHECK(dtype_name(info.dtype) == std::string(run.at("types").at(tensor)));
                const auto bytes = exported.file().read(info);
                CHECK(content_hash(bytes.bytes()) == digest.get<std::string>());
                ++compared;
            }
            CHECK(compared == 9);  // token_embd, the seven block matrices, output
        }
    }
    CHECK(refusals == 2 * 9);  // nine refused runs, from the GGUF and from the folder
}

TEST_CASE("QuantLens's importance matrix reads back as llama-imatrix rewrote it, in both formats") {
    const ParityModel parity;
    const auto ours = read_importance_matrix(parity.imatrix);
    // llama-imatrix --in-file ours -o rewritten.{gguf,dat} (llama.cpp's own writers)
    for (const char* name : {"golden/imatrix_rewritten.gguf", "golden/imatrix_rewritten.dat"}) {
        INFO(name);
        const auto theirs = read_importance_matrix(data_path(name));
        CHECK(theirs.legacy == std::string(name).ends_with(".dat"));
        REQUIRE(theirs.entries.size() == ours.entries.size());
        for (const auto& [tensor, entry] : ours.entries) {
            INFO(tensor);
            REQUIRE(theirs.entries.count(tensor) == 1);
            const auto& weights = theirs.entries.at(tensor).weights;
            REQUIRE(weights.size() == entry.weights.size());
            for (std::size_t i = 0; i < weights.size(); ++i)
                CHECK(weights[i] == Approx(entry.weights[i]).epsilon(1e-6));
            CHECK(entry.weights[5] == 0.0f);  // the never-active column keeps weight 0
        }
        REQUIRE_FALSE(theirs.datasets.empty());
        CHECK(theirs.datasets.back() == "quantlens-parity");
    }
}

// Not run by default: writes the F16 GGUF and the importance matrix the golden generator gives
// llama-quantize (QUANTLENS_PARITY_DIR=folder quantlens_core_tests "[.parity-inputs]").
TEST_CASE("write the llama-quantize parity inputs", "[.parity-inputs]") {
    const char* target = std::getenv("QUANTLENS_PARITY_DIR");
    if (!target)  // selected by a broad filter (core.scalar_paths' "~[engine]"): nothing to write
        return;
    const ParityModel parity;
    fs::copy_file(parity.gguf, fs::path(target) / "model.f16.gguf", fs::copy_options::overwrite_existing);
    fs::copy_file(parity.imatrix, fs::path(target) / "imatrix.gguf", fs::copy_options::overwrite_existing);
    const ParityModel mixes(kMixLayers, kMixHeads, kMixKvHeads);
    fs::copy_file(mixes.gguf, fs::path(target) / "mix.f16.gguf", fs::copy_options::overwrite_existing);
    fs::copy_file(mixes.imatrix, fs::path(target) / "mix.imatrix.gguf", fs::copy_options::overwrite_existing);
}

TEST_CASE("llama-quantize's named mixes give each tensor the type llama-quantize gives it") {
    const ParityModel parity(kMixLayers, kMixHeads, kMixKvHeads);
    std::ifstream in(data_path("golden/llama_quantize_mixes.json"));
    const auto golden = nlohmann::json::parse(in);
    const auto model = Model::open(parity.gguf);
    const auto hf = Model::open(parity.folder);
    REQUIRE(golden.at("runs").size() >= 58);  // 29 mixes, with and without --imatrix
    for (const auto& run : golden.at("runs")) {
        const std::string mix = run.at("mix");
        const bool weighted = run.at("imatrix");
        INFO(mix << (weighted ? " with --imatrix" : ""));
        for (const Model* source : {&model, &hf}) {
            const auto plan = llama_mix_plan(*source, mix, weighted);
            std::map<std::string, std::string> ours;  // by llama.cpp tensor name
            for (const auto& [layer, spec] : plan.layers)
                ours[source->llama_cpp_name(source->layer(layer))] = spec.to_string();
            for (const auto& [tensor, type] : run.at("types").items()) {
                INFO(tensor);
                std::string expected = type.get<std::string>();
                for (char& c : expected)
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                if (expected == "f16" || expected == "f32")  // left as it is (norms): not in the plan
                    CHECK(ours.count(tensor) == 0);
                else
                    CHECK(ours[tensor] == expected);
            }
        }
    }
    // And the bytes of a whole mixed file: Q4_K_M, from the GGUF.
    const auto& digests = golden.at("q4_k_m_digests");
    const auto out = parity.dir.file("q4_k_m.gguf");
    export_gguf(model, resolve_plan(llama_mix_plan(model, "Q4_K_M", false), model, "plan"), out);
    const auto exported = Model::open(out);
    for (const auto& [tensor, digest] : digests.items()) {
        INFO(tensor);
        const auto bytes = exported.file().read(exported.file().tensor(tensor));
        CHECK(content_hash(bytes.bytes()) == digest.get<std::string>());
    }
    CHECK_THROWS_WITH(llama_mix_plan(model, "IQ5_XL", false),
                      Catch::Contains("Q4_K_M") && Catch::Contains("IQ2_M") && Catch::Contains("IQ1_S"));
}

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "io/numpy.hpp"
#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "sensitivity/hessian_trace.hpp"
#include "sensitivity/layer_damage.hpp"
#include "sensitivity/lrp.hpp"
#include "sensitivity/labelled_data.hpp"
#include "tensor/convert.hpp"
#include "engine_support.hpp"

using namespace quantlens;
using namespace quantlens::test;
using nn::Matrix;

namespace {

// The goldens' batch: the first two calibration windows, 32 tokens each.
LabelledData golden_batch() {
    auto data = load_token_data(sample_path("text-calib.npz"));
    data.x = Matrix<double>(data.x.topLeftCorner(2, 32));
    return data;
}

void check_against_golden(const std::string& folder, const std::string& golden_file,
                          const std::string& small_block) {
    const auto model = Model::open(sample_path(folder));
    REQUIRE(nn::is_language_model(model));
    const auto data = golden_batch();
    const auto graph = nn::model_graph(model, 32);
    const EngineGolden golden(golden_file);
    check_network_against_golden(graph, data, golden);
    check_block_trace(nn::Network<double>(graph), data, golden, small_block);
}

}  // namespace

TEST_CASE(
    "the byte-level GPT-2 (learned positions, LayerNorm, fused attention, gelu_new, tied head) matches "
    "PyTorch",
    "[engine]") {
    check_against_golden("text-gpt2", "text_gpt2_engine.npz", "transformer.ln_f");
    const auto graph = nn::model_graph(Model::open(sample_path("text-gpt2")), 16);
    CHECK(graph.next_token);
    CHECK(graph.vocabulary == 256);
    std::size_t heads = 0;  // the tied head is not a block of its own
    for (const auto& block : graph.blocks())
        heads += block.layer == "transformer.wte" ? 1 : 0;
    CHECK(heads == 1);
}

TEST_CASE(
    "the byte-level LLaMA (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU, untied head) matches "
    "PyTorch",
    "[engine]") {
    check_against_golden("text-llama", "text_llama_engine.npz", "model.norm");
}

TEST_CASE("language-model calibration: token ids or text, checked against the model", "[engine]") {
    const auto text = load_token_data(sample_path("text-calib.txt"), 0, 64);
    CHECK(text.x.rows() == 32);  // 2048 bytes in windows of 64
    CHECK(text.x.cols() == 64);
    const auto ids = load_token_data(sample_path("text-calib.npz"));
    CHECK(ids.x.topRows(16) == text.x.topRows(16));  // the same held-out bytes
    const auto model = Model::open(sample_path("text-gpt2"));
    CHECK(load_model_data(model, sample_path("text-calib.txt")).tokens);
    ScratchDir dir;
    const std::vector<std::int64_t> big = {1, 2, 300, 4};
    write_npz(dir.file("big.npz"), {{"input_ids", DType::I64, {2, 2}, as_bytes_of(big)}});
    const auto graph = nn::model_graph(model, 2);
    CHECK_THROWS_WITH(check_fits(load_token_data(dir.file("big.npz")), graph, "m"),
                      Catch::Contains("id 300 at sample 1 is outside m's vocabulary of 256"));
    CHECK_THROWS_WITH(check_fits(load_labelled_data(sample_path("digits-calib.npz")), graph, "m"),
                      Catch::Contains("m is a language model"));
    CHECK_THROWS_WITH(nn::model_graph(model, 65),
                      Catch::Contains("65 tokens per sample, the model has 64 positions"));
    // a config the engine does not build is refused by field
    std::filesystem::copy(sample_path("text-llama"), dir.file("scaled"));
    auto config = nlohmann::json::parse(read_bytes(sample_path("text-llama/config.json")));
    config["rope_scaling"] = {{"type", "longrope"}, {"factor", 2.0}};
    write_bytes(dir.file("scaled/config.json"), config.dump());
    CHECK_THROWS_WITH(nn::model_graph(Model::open(dir.file("scaled")), 8),
                      Catch::Contains("config.json rope_scaling.rope_type: \"longrope\" is not supported"));
}

TEST_CASE("a model the engine does not build is refused by its model_type before calibration is read",
          "[engine]") {
    ScratchDir dir;
    std::filesystem::copy(sample_path("text-llama"), dir.file("mamba"));
    auto config = nlohmann::json::parse(read_bytes(sample_path("text-llama/config.json")));
    config["model_type"] = "mamba";
    write_bytes(dir.file("mamba/config.json"), config.dump());
    write_bytes(dir.file("calib_tokens.h5"), "not an HDF5 file");  // never opened
    const auto model = Model::open(dir.file("mamba"));
    for (const auto& calibration : {dir.file("calib_tokens.h5"), sample_path("text-calib.npz")})
        CHECK_THROWS_WITH(load_model_data(model, calibration),
                          Catch::Contains("config.json model_type: \"mamba\" is not supported by the engine "
                                          "(gpt2, llama, mistral, qwen2, qwen3, gemma2, gemma3, gemma3_text, "
                                          "phi3)") &&
                              !Catch::Contains("calib_tokens.h5"));
    CHECK_NOTHROW(nn::require_engine_model(Model::open(sample_path("text-gpt2"))));
    CHECK_NOTHROW(nn::require_engine_model(Model::open(sample_path("digits-cnn.h5"))));
}

TEST_CASE("measured damage on a language model: nothing when lossless, more as bits fall", "[engine]") {
    const auto model = Model::open(sample_path("text-llama"));
    const auto data = load_token_data(sample_path("text-calib.npz"), 8);  // half the samples: same checks
    const auto report = layer_damage(model, data,
                                     {QuantSpec::parse("f32"), QuantSpec::parse("int8:channel:sym"),
                                      QuantSpec::parse("int2:channel:sym")});
    REQUIRE(report.layers.size() == 15);  // 7 linear layers per block, and the head
    for (const auto& layer : report.layers) {
        INFO(layer.layer);
        CHECK(layer.delta_loss[0] == 0.0);
        CHECK(layer.kl[0] == 0.0);
        CHECK(layer.kl[1] < layer.kl[2]);
        CHECK(layer.delta_loss[1] < layer.delta_loss[2]);
    }
}

TEST_CASE(
    "LRP through a bias-free transformer conserves relevance as epsilon goes to zero; attention passes it "
    "down the value path",
    "[engine]") {
    const auto model = Model::open(sample_path("text-llama"));
    const auto data = load_token_data(sample_path("text-calib.npz"), 4);
    LrpOptions options;
    options.epsilon = 1e-12;
    const auto result = lrp_sensitivity(model, data, options);
    CHECK(result.input_relevance.rows() == 4);
    CHECK(result.input_relevance.cols() == 64);  // one relevance per token
    CHECK(result.conservation_error < 1e-6);
    for (const auto& node : result.nodes) {
        INFO(node.node);
        CHECK(node.conservation_error < 1e-6);
    }
    double sum = 0;
    for (const auto& layer : result.layers) {
        sum += layer.contribution;
        if (layer.layer.find("q_proj") != std::string::npos ||
            layer.layer.find("k_proj") != std::string::npos)
            CHECK(layer.contribution == 0.0);
        if (layer.layer.find("v_proj") != std::string::npos)
            CHECK(layer.contribution > 0.0);
    }
    CHECK(sum == Approx(1.0));
    // GPT-2 has biases and LayerNorm shifts, which absorb relevance: reported, not hidden
    const auto gpt2 = lrp_sensitivity(Model::open(sample_path("text-gpt2")), data);
    CHECK(gpt2.conservation_error > 1e-3);
    CHECK(std::isfinite(gpt2.conservation_error));
}

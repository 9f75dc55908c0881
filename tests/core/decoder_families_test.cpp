// Today's decoder families against PyTorch float64 (samples/family_samples.py writes the tiny
// models, their calibration ids and the goldens into tests/data/golden/families/<name>).
#include <catch2/catch.hpp>

#include <filesystem>

#include "io/open_model.hpp"
#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "nn/rope.hpp"
#include "sensitivity/hessian_trace.hpp"
#include "sensitivity/labelled_data.hpp"
#include "engine_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

// Logits, loss, gradients and an HVP in float64 and float32 (check_network_against_golden),
// and the exact Hessian trace of the family's small block.
void check_family(const std::string& name, const std::string& small_block) {
    INFO(name);
    const auto folder = data_path("golden/families/" + name);
    const auto model = Model::open(folder);
    REQUIRE(nn::is_language_model(model));
    const auto data = load_model_data(model, folder + "/calib.npz");
    const auto graph = nn::model_graph(model, data.x.cols());
    const EngineGolden golden("families/" + name + "/engine.npz");
    check_network_against_golden(graph, data, golden);
    check_block_trace(nn::Network<double>(graph), data, golden, small_block);
}

const nn::Node& node_named(const nn::Graph& graph, const std::string& name) {
    for (const auto& node : graph.nodes)
        if (node.name == name)
            return node;
    FAIL("no node " << name);
    return graph.nodes.front();
}

}  // namespace

TEST_CASE("Llama 3.1 rope scaling with an explicit head_dim and attention and MLP biases matches PyTorch",
          "[engine][families]") {
    check_family("llama3", "model.norm");
}

TEST_CASE("YaRN rope scaling in the rope_parameters dialect matches PyTorch", "[engine][families]") {
    check_family("llama-yarn", "model.norm");
    const auto graph = nn::model_graph(Model::open(data_path("golden/families/llama-yarn")), 4);
    CHECK(node_named(graph, "model.layers.0.self_attn").rope_factor ==
          Approx(0.1 * std::log(4.0) + 1));  // YaRN's attention factor
}

TEST_CASE("Mistral's sliding-window attention matches PyTorch", "[engine][families]") {
    check_family("mistral", "model.norm");
}

TEST_CASE("Qwen2 with q k v biases and linear rope scaling matches PyTorch", "[engine][families]") {
    check_family("qwen2", "model.norm");
}

TEST_CASE("Qwen3 with per-head q and k RMSNorms matches PyTorch", "[engine][families]") {
    check_family("qwen3", "model.layers.1.self_attn.k_norm");
}

TEST_CASE(
    "Gemma 2 (scaled embedding and (1 + w) sandwich norms and soft-capping and local layers) matches "
    "PyTorch",
    "[engine][families]") {
    check_family("gemma2", "model.norm");
    const auto graph = nn::model_graph(Model::open(data_path("golden/families/gemma2")), 12);
    CHECK(node_named(graph, "model.layers.0.self_attn").sliding_window == 4);  // local, then global
    CHECK(node_named(graph, "model.layers.1.self_attn").sliding_window == 0);
    CHECK(graph.nodes[static_cast<std::size_t>(graph.output)].activation == nn::ActivationKind::SoftCap);
}

TEST_CASE("Gemma 3 with q and k norms and local rope bases matches PyTorch", "[engine][families]") {
    check_family("gemma3", "model.layers.0.self_attn.q_norm");
}

TEST_CASE("Phi-3 with fused qkv_proj and gate_up_proj matches PyTorch", "[engine][families]") {
    check_family("phi3", "model.norm");
}

TEST_CASE("rope types compute transformers' inverse frequencies", "[engine][families]") {
    const auto at = [](const nlohmann::json& parameters, int dim = 8) {
        return nn::rotary_parameters(parameters, dim, 64, "m", "config.json rope_scaling");
    };
    const auto plain = at({{"rope_theta", 10000.0}});
    REQUIRE(plain.inv_freq.size() == 4);
    CHECK(plain.inv_freq[1] == Approx(0.1));  // 10000^(−2/8)
    CHECK(plain.factor == 1);
    const auto linear = at({{"type", "linear"}, {"factor", 4.0}});
    CHECK(linear.inv_freq[1] == Approx(0.025));
    // dynamic NTK changes nothing until sequences pass max_position_embeddings
    CHECK(at({{"rope_type", "dynamic"}, {"factor", 4.0}}).inv_freq == plain.inv_freq);
    CHECK_THROWS_WITH(at({{"rope_type", "longrope"}}),
                      Catch::Contains("config.json rope_scaling.rope_type: \"longrope\" is not supported"));
    CHECK_THROWS_WITH(at({{"rope_type", "llama3"}, {"factor", 8.0}}),
                      Catch::Contains("config.json rope_scaling.low_freq_factor: is missing"));
    CHECK_THROWS_WITH(at({{"rope_type", "linear"}, {"factor", "2"}}),
                      Catch::Contains("rope_scaling.factor: must be a number"));
    CHECK_THROWS_WITH(at({{"partial_rotary_factor", 0.5}}),
                      Catch::Contains("partial_rotary_factor: other than 1 is not supported"));
    // YaRN: mscale and mscale_all_dim set the attention factor as their ratio (DeepSeek's form)
    const auto yarn = at({{"rope_type", "yarn"},
                          {"factor", 40.0},
                          {"mscale", 1.0},
                          {"mscale_all_dim", 0.5},
                          {"original_max_position_embeddings", 16}});
    CHECK(yarn.factor == Approx((0.1 * std::log(40.0) + 1) / (0.05 * std::log(40.0) + 1)));
}

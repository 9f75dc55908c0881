// The engine splits large matrix products by rows and attention by (sample, key/value group)
// across cores (ops_linear.cpp, ops_transformer.cpp). A batch big enough to be split must give
// what its samples give one at a time, each too small to be split.
#include <catch2/catch.hpp>

#include <random>

#include "io/safetensors.hpp"
#include "model/model.hpp"
#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "util/parallel.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("a batch split across cores gives the gradients of its samples taken one at a time", "[engine]") {
    if (max_threads() < 2)
        WARN("one core: the split path runs on one thread");
    ScratchDir dir;
    const std::int64_t d = 64, heads = 2, head_dim = 32, intermediate = 128, vocabulary = 64, tokens = 64;
    write_bytes(dir.file("config.json"), nlohmann::json{{"model_type", "llama"},
                                                        {"hidden_size", d},
                                                        {"num_hidden_layers", 1},
                                                        {"num_attention_heads", heads},
                                                        {"head_dim", head_dim},
                                                        {"intermediate_size", intermediate},
                                                        {"vocab_size", vocabulary},
                                                        {"max_position_embeddings", tokens}}
                                             .dump());
    std::mt19937 random(7);
    std::normal_distribution<float> normal(0.0f, 0.2f);
    std::vector<std::vector<float>> storage;
    std::vector<TensorToWrite> tensors;
    const auto add = [&](const std::string& name, std::vector<std::int64_t> shape) {
        std::int64_t size = 1;
        for (auto s : shape)
            size *= s;
        storage.emplace_back(static_cast<std::size_t>(size));
        for (auto& v : storage.back())
            v = name.find("norm") != std::string::npos ? 1.0f + normal(random) : normal(random);
        tensors.push_back({name, DType::F32, std::move(shape), {}});
    };
    storage.reserve(16);
    const std::string p = "model.layers.0.";
    add("model.embed_tokens.weight", {vocabulary, d});
    add(p + "input_layernorm.weight", {d});
    for (const auto* name : {"q_proj", "k_proj", "v_proj"})
        add(p + "self_attn." + name + ".weight", {heads * head_dim, d});
    add(p + "self_attn.o_proj.weight", {d, heads * head_dim});
    add(p + "post_attention_layernorm.weight", {d});
    add(p + "mlp.gate_proj.weight", {intermediate, d});
    add(p + "mlp.up_proj.weight", {intermediate, d});
    add(p + "mlp.down_proj.weight", {d, intermediate});
    add("model.norm.weight", {d});
    add("lm_head.weight", {vocabulary, d});
    for (std::size_t i = 0; i < tensors.size(); ++i)
        tensors[i].bytes = as_bytes_of(storage[i]);
    write_safetensors(dir.file("model.safetensors"), tensors);
    const nn::Network<double> network(nn::model_graph(Model::open(dir.path().string()), tokens));

    const Eigen::Index samples = 32;  // 2048 rows of 64 features, 64 (sample, group) pairs: split
    nn::Matrix<double> x(samples, tokens);
    std::uniform_int_distribution<int> token(0, static_cast<int>(vocabulary) - 1);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = token(random);
    nn::Gradients<double> batch;
    const double loss = network.loss_and_gradient(x, {}, batch);
    const auto logits = network.forward(x);
    double mean_loss = 0;
    Eigen::VectorXd mean_gradient = Eigen::VectorXd::Zero(batch.parameters.size());
    for (Eigen::Index n = 0; n < samples; ++n) {  // one sample: 64 rows, 2 pairs, below every split
        const nn::Matrix<double> one = x.row(n);
        nn::Gradients<double> single;
        mean_loss += network.loss_and_gradient(one, {}, single) / samples;
        mean_gradient += single.parameters / samples;
        CHECK((network.forward(one) - logits.row(n)).norm() <= 1e-12 * logits.row(n).norm());
    }
    CHECK(loss == Approx(mean_loss).epsilon(1e-13));
    CHECK((batch.parameters - mean_gradient).norm() <= 1e-12 * mean_gradient.norm());
}

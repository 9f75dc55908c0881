// The engine on GGUF files of the decoder families, against llama.cpp's own logits for the same
// files (samples/gguf_family_samples.py: llama.cpp's converter writes the F32 GGUF from the tiny
// Hugging Face model, samples/ggml/eval_logits.c has llama.cpp evaluate it).
#include <catch2/catch.hpp>

#include "io/open_model.hpp"
#include "nn/gguf_graph.hpp"
#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "sensitivity/hessian_trace.hpp"
#include "sensitivity/labelled_data.hpp"
#include "sensitivity/layer_damage.hpp"
#include "engine_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct GgufFamily {
    Model model;
    LabelledData data;
    nn::Graph graph;
    explicit GgufFamily(const std::string& name)
        : model(Model::open(data_path("golden/families/" + name + "/model.gguf"))),
          data(load_model_data(model, data_path("golden/families/" + name + "/calib.npz"))),
          graph(nn::model_graph(model, data.x.cols())) {}
};

// float32 and float64 logits of the GGUF against llama.cpp's (float32 arithmetic throughout).
// ggml's CPU GELU reads a table of f16 inputs and outputs (GGML_GELU_FP16 in ggml-cpu/vec.h),
// which moves Gemma's logits by about 1.5·10⁻⁴ relative; the engine computes the GELU exactly.
void check_against_llama_cpp(const std::string& name) {
    INFO(name);
    const double tolerance = name.rfind("gemma", 0) == 0 ? 3e-4 : 2e-6;
    const GgufFamily family(name);
    REQUIRE(nn::is_language_model(family.model));
    const auto reference = EngineGolden("families/" + name + "/llamacpp_logits.npz")("logits");
    const nn::Network<float> single(family.graph);
    CHECK(relative(flat_rows(single.forward(family.data.x.cast<float>()).cast<double>()), reference) <
          tolerance);
    const nn::Network<double> exact(family.graph);
    CHECK(relative(flat_rows(exact.forward(family.data.x)), reference) < tolerance);
}

}  // namespace

TEST_CASE("GGUF models of each family give llama.cpp's logits", "[engine][gguf]") {
    for (const auto* name : {"llama3", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"})
        check_against_llama_cpp(name);
}

TEST_CASE("a GGUF the converter left unchanged runs as its Hugging Face model did in PyTorch",
          "[engine][gguf]") {
    // llama (Llama 3.1 rope as rope_freqs, q/k rows permuted), qwen2 and qwen3 carry everything
    // their config said; float64 against the PyTorch goldens of the Hugging Face folders
    for (const auto* name : {"llama3", "qwen2", "qwen3"}) {
        INFO(name);
        const GgufFamily family(name);
        const EngineGolden golden("families/" + std::string(name) + "/engine.npz");
        const nn::Network<double> network(family.graph);
        CHECK(relative(flat_rows(network.forward(family.data.x)), golden("logits")) < 1e-6);
        nn::Gradients<double> gradients;
        CHECK(network.loss_and_gradient(family.data.x, family.data.y, gradients) ==
              Approx(golden("loss")[0]).epsilon(1e-7));
        // the final norm is stored unchanged: its gradient and exact Hessian trace are the same
        const auto& norm = family.graph.node_of_layer("output_norm");
        const auto slot = norm.parameters.front();
        CHECK(relative(gradients.parameters.segment(static_cast<Eigen::Index>(slot.offset),
                                                    static_cast<Eigen::Index>(slot.size)),
                       golden("gradient__model.norm.weight")) < 1e-6);
        if (std::string(name) == "llama3")
            check_block_trace(network, family.data, golden, "output_norm", "model.norm", 1e-5);
    }
}

TEST_CASE("a GGUF's layers are llama.cpp's tensors", "[engine][gguf]") {
    const GgufFamily gemma("gemma2");
    for (const auto* layer : {"token_embd", "blk.0.attn_q", "blk.0.post_attention_norm", "blk.1.ffn_norm",
                              "blk.1.post_ffw_norm", "output_norm"})
        CHECK_NOTHROW(gemma.graph.node_of_layer(layer));
    const GgufFamily phi("phi3");
    CHECK_NOTHROW(phi.graph.node_of_layer("blk.0.attn_qkv"));
    CHECK_NOTHROW(phi.graph.node_of_layer("blk.1.ffn_up"));  // gate and up, fused
}

TEST_CASE("a GGUF of an architecture the engine does not build is refused by name", "[engine][gguf]") {
    const auto model = Model::open(sample_path("tiny-gpt2.gguf"));
    CHECK_FALSE(nn::is_language_model(model));
    CHECK_THROWS_WITH(load_model_data(model, data_path("golden/families/llama3/calib.npz")),
                      Catch::Contains("GGUF metadata general.architecture: \"gpt2\" is not supported by the "
                                      "engine (llama, qwen2, qwen3, gemma2, gemma3, phi3)"));
}

TEST_CASE("a layer of a GGUF quantized losslessly changes nothing, whatever order its rows are stored in",
          "[engine][gguf]") {
    // the llama architecture's q/k rows are stored interleaved: the measured damage puts the
    // file's values back into the network, which must undo that as reading did
    const GgufFamily family("llama3");
    const auto report = layer_damage(family.model, family.data, {QuantSpec::parse("f32")});
    REQUIRE(report.layers.size() == 15);
    for (const auto& layer : report.layers) {
        INFO(layer.layer);
        CHECK(layer.delta_loss.front() == 0.0);
        CHECK(layer.kl.front() == 0.0);
    }
}

// The streamed engine (nn/streamed_network.hpp) against the whole network it replaces for
// forward-only work: the same logits to the bit, and the same layer figures.
#include <array>
#include <random>

#include <catch2/catch.hpp>

#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "nn/streamed_hessian.hpp"
#include "nn/streamed_network.hpp"
#include "quant/quantizer.hpp"
#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/labelled_data.hpp"
#include "sensitivity/layer_damage.hpp"
#include "engine_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct Sample {
    std::string name, model, calibration;
};

// Keras models (their graph holds its values), Hugging Face folders and GGUF files (shapes
// alone: every slot read from the file, GGUF q/k rows un-permuted on the way).
std::vector<Sample> samples() {
    std::vector<Sample> list{
        {"digits-cnn", sample_path("digits-cnn.h5"), sample_path("digits-calib.npz")},
        {"text-gpt2", sample_path("text-gpt2"), sample_path("text-calib.npz")},
        {"text-llama", sample_path("text-llama"), sample_path("text-calib.npz")},
    };
    for (const auto* family : {"llama3", "gemma3", "phi3", "qwen3"}) {
        const auto folder = data_path("golden/families/" + std::string(family));
        list.push_back({std::string(family) + " folder", folder, folder + "/calib.npz"});
        list.push_back({std::string(family) + " gguf", folder + "/model.gguf", folder + "/calib.npz"});
    }
    return list;
}

template <typename T>
void check_logits(const Model& model, const LabelledData& data) {
    const nn::Matrix<T> x = data.x.cast<T>();
    const auto whole = nn::Network<T>(nn::model_graph(model, data.x.cols())).forward(x);
    const auto shapes = nn::model_graph(model, data.x.cols(), false);
    const nn::StreamedNetwork<T> streamed(model, shapes);
    std::size_t visited = 0;
    const auto logits =
        streamed.forward(x, [&](int, const nn::Inputs<T>&, const nn::Matrix<T>&) { ++visited; });
    CHECK(visited == shapes.nodes.size());
    REQUIRE(logits.rows() == whole.rows());
    REQUIRE(logits.cols() == whole.cols());
    CHECK((logits.array() == whole.array()).all());
}

}  // namespace

TEST_CASE("a streamed forward pass gives the whole network's logits to the bit in float32 and float64",
          "[engine]") {
    for (const auto& sample : samples()) {
        INFO(sample.name);
        const auto model = Model::open(sample.model);
        const auto data = load_model_data(model, sample.calibration, 4);
        check_logits<float>(model, data);
        check_logits<double>(model, data);
    }
}

namespace {

// One layer's measured figures on the whole network (Network<T>: every output kept, one full
// backward pass, one full forward pass per quantized layer), as layer_damage ran before it streamed.
template <typename T>
struct WholeNetwork {
    nn::Network<T> network;
    nn::Matrix<T> x;
    const std::vector<std::int64_t>& labels;
    nn::ForwardTrace<T> trace;
    nn::Gradients<T> gradients;
    double loss = 0;
    WholeNetwork(const Model& model, const LabelledData& data)
        : network(nn::model_graph(model, data.x.cols())), x(data.x.cast<T>()), labels(data.y) {
        loss = network.loss_and_gradient(x, labels, gradients, true, &trace);
    }
    // Δloss, KL and Fisher–Taylor of node k's kernel quantized by spec
    std::array<double, 3> measure(const Model& model, int k, const QuantSpec& spec) {
        const auto& graph = network.graph();
        const auto& node = graph.nodes[static_cast<std::size_t>(k)];
        const auto& layer = model.layer(node.layer);
        const auto weights = model.read_weights(layer);
        QuantOptions options;
        options.codes = options.error_histogram = false;
        options.importance = model.importance(layer);
        const auto result = quantize(as_matrix(weights.values(), weights.shape), spec, options);
        const auto theta = network.parameters();
        network.set_slot(*node.slot("kernel"),
                         to_stored_layout(result.dequantized, node.slot("kernel")->shape, layer.orientation));
        const auto quantized = network.run(x);
        network.set_parameters(theta);
        const auto& logits = trace.outputs[static_cast<std::size_t>(graph.output)];
        const auto& logits_q = quantized.outputs[static_cast<std::size_t>(graph.output)];
        const nn::Matrix<double> p =
            nn::softmax_rows<double>(network.position_logits(logits).template cast<double>());
        const nn::Matrix<double> q =
            nn::softmax_rows<double>(network.position_logits(logits_q).template cast<double>());
        const double kl =
            (p.array() * (p.array().log() - q.array().log())).sum() / static_cast<double>(p.rows());
        const double n = static_cast<double>(x.rows());
        const auto& dy = gradients.outputs[static_cast<std::size_t>(k)];
        const auto& y = trace.outputs[static_cast<std::size_t>(k)];
        const auto& y_q = quantized.outputs[static_cast<std::size_t>(k)];
        const double fisher =
            (dy.template cast<double>().array() * n * (y_q - y).template cast<double>().array())
                .square()
                .sum() /
            n;
        return {network.objective(logits_q, x, labels) - loss, kl, fisher};
    }
};

template <typename T>
void check_measured(const Model& model, const LabelledData& data) {
    const auto spec = QuantSpec::parse("int3:channel:sym");
    const auto report = layer_damage(model, data, {spec}, {.float64 = std::is_same_v<T, double>});
    WholeNetwork<T> whole(model, data);
    CHECK(report.loss == whole.loss);
    std::size_t next = 0;
    const auto& graph = whole.network.graph();
    for (std::size_t k = 0; k < graph.nodes.size(); ++k) {
        if (!graph.nodes[k].slot("kernel"))
            continue;
        REQUIRE(next < report.layers.size());
        const auto& layer = report.layers[next++];
        INFO(layer.layer);
        CHECK(layer.layer == graph.nodes[k].layer);
        const auto [delta_loss, kl, fisher] = whole.measure(model, static_cast<int>(k), spec);
        CHECK(layer.delta_loss.at(0) == delta_loss);
        CHECK(layer.fisher.at(0) == fisher);
        CHECK(layer.kl.at(0) == Approx(kl).epsilon(1e-12).margin(1e-300));
    }
    CHECK(next == report.layers.size());
}

}  // namespace

TEST_CASE("measured damage streams with checkpoints and gives the whole network's figures", "[engine]") {
    for (const auto& sample : samples()) {
        INFO(sample.name);
        const auto model = Model::open(sample.model);
        const auto data = load_model_data(model, sample.calibration, 3);
        check_measured<float>(model, data);
        check_measured<double>(model, data);
    }
}

TEST_CASE("the forward-only figures equal the measured run's", "[engine]") {
    const std::vector<QuantSpec> specs{QuantSpec::parse("int4:channel:sym"),
                                       QuantSpec::parse("int4:channel:sym:round=gptq")};
    for (const auto& sample : samples()) {
        if (sample.name == "digits-cnn")
            continue;  // GPTQ needs a single input matrix, which its depthwise layer has not
        INFO(sample.name);
        const auto model = Model::open(sample.model);
        const auto data = load_model_data(model, sample.calibration, 4);
        const auto measured = layer_damage(model, data, specs);
        std::size_t last_step = 0, total = 0;
        const auto streamed = layer_damage(model, data, specs, {.measure = false},
                                           [&](std::uint64_t done, std::uint64_t all, std::string_view) {
                                               CHECK(done >= last_step);
                                               last_step = done;
                                               total = all;
                                           });
        CHECK(last_step == total);
        CHECK(streamed.loss == measured.loss);
        CHECK(streamed.accuracy == measured.accuracy);
        REQUIRE(streamed.layers.size() == measured.layers.size());
        for (std::size_t i = 0; i < streamed.layers.size(); ++i) {
            const auto &a = streamed.layers[i], &b = measured.layers[i];
            INFO(a.layer);
            CHECK(a.layer == b.layer);
            CHECK(a.proxy_trace == b.proxy_trace);
            CHECK(a.importance == b.importance);
            CHECK(a.input_rows == b.input_rows);
            CHECK(a.activation_kurtosis == b.activation_kurtosis);
            CHECK(a.weight_mse == b.weight_mse);
            CHECK(a.proxy_damage == b.proxy_damage);
            CHECK(a.delta_loss.empty());
            CHECK(b.delta_loss.size() == specs.size());
        }
    }
}

TEST_CASE("a streamed pass stops when cancelled", "[engine]") {
    const auto model = Model::open(sample_path("text-llama"));
    const auto data = load_model_data(model, sample_path("text-calib.npz"), 2);
    const auto shapes = nn::model_graph(model, data.x.cols(), false);
    const nn::StreamedNetwork<float> streamed(model, shapes);
    CancelToken cancel;
    int seen = 0;
    CHECK_THROWS_AS(streamed.forward(
                        data.x.cast<float>(),
                        [&](int, const nn::Inputs<float>&, const nn::Matrix<float>&) {
                            if (++seen == 3)
                                cancel.cancel();
                        },
                        &cancel),
                    Cancelled);
    CHECK(seen == 3);
}

namespace {

// A sample's whole-network products beside the streamed ones, on two calibration samples.
struct HessianPair {
    Model model;
    LabelledData data;
    nn::Network<double> whole;
    nn::HessianVectorProducts products;
    nn::Graph shapes;
    nn::StreamedHessian streamed;
    explicit HessianPair(const Sample& sample)
        : model(Model::open(sample.model)),
          data(load_model_data(model, sample.calibration, 2)),
          whole(nn::model_graph(model, data.x.cols())),
          products(whole, data.x, data.y),
          shapes(nn::model_graph(model, data.x.cols(), false)),
          streamed(model, shapes, data.x, data.y) {}
};

}  // namespace

TEST_CASE("streamed Hessian-vector products are the whole network's on every layer block", "[engine]") {
    for (const auto& sample : samples()) {
        if (sample.name.find("gguf") != std::string::npos && sample.name != "llama3 gguf")
            continue;  // the folders run the same graphs; one GGUF shows the un-permuted q/k rows
        INFO(sample.name);
        HessianPair pair(sample);
        auto& [model, data, whole, products, shapes, streamed] = pair;
        CHECK(streamed.loss() == Approx(whole.loss(data.x, data.y)).epsilon(1e-14));
        std::mt19937 random(7);
        std::normal_distribution<double> normal;
        for (const auto& block : shapes.blocks()) {
            INFO(block.layer);
            Eigen::VectorXd v(static_cast<Eigen::Index>(block.size));
            for (auto& value : v)
                value = normal(random);
            Eigen::VectorXd full = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(whole.parameter_count()));
            full.segment(static_cast<Eigen::Index>(block.offset), v.size()) = v;
            const Eigen::VectorXd expected =
                products(full).segment(static_cast<Eigen::Index>(block.offset), v.size());
            const Eigen::VectorXd got = streamed(block, v);
            CHECK((got - expected).norm() <= 1e-12 * expected.norm());
        }
    }
}

TEST_CASE("a joint Hutchinson sample is vᵀ(Hv) on every block for one v over all parameters", "[engine]") {
    for (const auto& sample : samples()) {
        if (sample.name != "digits-cnn" && sample.name != "text-gpt2" && sample.name != "llama3 gguf")
            continue;  // a Keras network, a tied head, un-permuted q/k rows
        INFO(sample.name);
        HessianPair pair(sample);
        auto& [model, data, whole, products, shapes, streamed] = pair;
        const auto blocks = shapes.blocks();
        Eigen::VectorXd v = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(whole.parameter_count()));
        for (const auto& node : shapes.nodes)
            for (const auto& slot : node.parameters)
                v.segment(static_cast<Eigen::Index>(slot.offset), static_cast<Eigen::Index>(slot.size)) =
                    nn::slot_rademacher(11, slot.offset, slot.size);
        const Eigen::VectorXd hv = products(v);
        const auto joint = streamed.joint(11, blocks);
        REQUIRE(joint.size() == blocks.size());
        for (std::size_t b = 0; b < blocks.size(); ++b) {
            INFO(blocks[b].layer);
            const auto at = static_cast<Eigen::Index>(blocks[b].offset),
                       n = static_cast<Eigen::Index>(blocks[b].size);
            const double expected = v.segment(at, n).dot(hv.segment(at, n));
            CHECK(std::fabs(joint[b] - expected) <=
                  1e-12 * v.segment(at, n).norm() * hv.segment(at, n).norm());
        }
    }
}

TEST_CASE("joint Hutchinson traces are unbiased: within their standard errors of the exact traces",
          "[engine]") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 16);
    HessianOptions options;
    options.hutchinson.joint = true;
    options.hutchinson.max_samples = 300;
    options.hutchinson.tolerance = 0;
    options.hutchinson.seed = 3;
    options.exact = true;
    std::uint64_t last = 0, total = 0;
    const auto report = hessian_sensitivity(model, data, {}, options,
                                            [&](std::uint64_t done, std::uint64_t all, std::string_view) {
                                                CHECK(done >= last);
                                                last = done;
                                                total = all;
                                            });
    CHECK(last == total);
    REQUIRE(report.layers.size() == 2);
    for (const auto& layer : report.layers) {
        INFO(layer.layer);
        CHECK(layer.hutchinson.samples == 300);
        REQUIRE(layer.exact);
        CHECK(std::fabs(layer.hutchinson.trace - *layer.exact) <= 4 * layer.hutchinson.standard_error);
        CHECK(layer.hutchinson.standard_error < 0.2 * std::fabs(*layer.exact));
    }
}

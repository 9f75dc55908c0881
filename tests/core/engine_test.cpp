#include <catch2/catch.hpp>

#include <cmath>

#include "io/numpy.hpp"
#include "nn/keras_graph.hpp"
#include "nn/network.hpp"
#include "quant/quantizer.hpp"
#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/hessian_trace.hpp"
#include "tensor/convert.hpp"
#include "engine_support.hpp"

using namespace quantlens;
using namespace quantlens::test;
using nn::Matrix;

namespace {

void check_against_golden(const std::string& model_file, const std::string& golden_file) {
    const auto graph = nn::keras_graph(Model::open(sample_path(model_file)));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 32);
    const EngineGolden golden(golden_file);
    check_network_against_golden(graph, data, golden);
    nn::Gradients<double> gradients;  // and the gradient with respect to the inputs
    nn::Network<double>(graph).loss_and_gradient(data.x, data.y, gradients);
    CHECK(relative(flat_rows(gradients.input), golden("input_gradient")) < 1e-9);
}

}  // namespace

TEST_CASE("the digits MLP's forward, loss, gradients and Hessian-vector product match PyTorch", "[engine]") {
    const auto graph = nn::keras_graph(Model::open(sample_path("digits-mlp.h5")));
    CHECK(graph.softmax_folded);
    CHECK(graph.parameters.size() == 2410);
    REQUIRE(graph.blocks().size() == 2);
    check_against_golden("digits-mlp.h5", "digits_engine.npz");
}

TEST_CASE(
    "the digits CNN (Conv2D, BatchNorm, DepthwiseConv2D, residual Add, pools, GELU, swish, tanh) matches "
    "PyTorch",
    "[engine]") {
    const auto graph = nn::keras_graph(Model::open(sample_path("digits-cnn.h5")));
    std::vector<std::string> layers;
    for (const auto& block : graph.blocks())
        layers.push_back(block.layer);
    CHECK(layers == std::vector<std::string>{"conv2d", "batch_normalization", "depthwise_conv2d", "conv2d_1",
                                             "conv2d_2", "dense", "dense_1", "dense_2"});
    CHECK(graph.softmax_folded);
    CHECK(nn::shape_text(graph.input) == "[8, 8, 1]");
    check_against_golden("digits-cnn.h5", "digits_cnn_engine.npz");
}

TEST_CASE("a Keras 3 config of the same CNN builds the same network", "[engine]") {
    const auto keras2 = nn::keras_graph(Model::open(sample_path("digits-cnn.h5")));
    const auto keras3 = nn::keras_graph(Model::open(data_path("keras3-digits-cnn.h5")));
    CHECK(keras3.parameters == keras2.parameters);
    REQUIRE(keras3.nodes.size() == keras2.nodes.size());
    for (std::size_t i = 0; i < keras2.nodes.size(); ++i) {
        CHECK(keras3.nodes[i].inputs == keras2.nodes[i].inputs);
        CHECK(keras3.nodes[i].out.dims == keras2.nodes[i].out.dims);
    }
}

TEST_CASE(
    "per-layer Hessian traces: exact ones match PyTorch, Hutchinson's fall within three standard errors",
    "[engine]") {
    for (const auto& [file, golden_file] : {std::pair{"digits-mlp.h5", "digits_engine.npz"},
                                            std::pair{"digits-cnn.h5", "digits_cnn_engine.npz"}}) {
        const nn::Network<double> network(nn::keras_graph(Model::open(sample_path(file))));
        const auto data = load_labelled_data(sample_path("digits-calib.npz"), 32);
        const EngineGolden golden(golden_file);
        const auto hvp = hessian_vector_products(network, data.x, data.y);
        for (const auto& block : network.graph().blocks()) {
            // one HVP per parameter: the big blocks would dominate the suite's time, and
            // more so under sanitizers
            if (block.size > (std::string(file) == "digits-mlp.h5" ? 400u : 100u))
                continue;
            INFO(file << " " << block.layer);
            const double exact = exact_block_trace(on_block(hvp, network.parameter_count(), block), block);
            CHECK(exact == Approx(golden("trace__" + block.layer)[0]).epsilon(1e-6).margin(1e-9));
            HutchinsonOptions options;
            options.seed = 42;
            const auto estimate =
                hutchinson_trace(on_block(hvp, network.parameter_count(), block), block, options);
            CHECK(estimate.samples >= 2);
            CHECK(estimate.samples <= 100);
            CHECK(std::fabs(estimate.trace - exact) <= 3 * estimate.standard_error + 1e-9);
            HutchinsonOptions few = options;  // seeded: the same vectors again (a few suffice to show it)
            few.max_samples = 4;
            CHECK(hutchinson_trace(on_block(hvp, network.parameter_count(), block), block, few).trace ==
                  hutchinson_trace(on_block(hvp, network.parameter_count(), block), block, few).trace);
        }
    }
    CHECK(hawq_sensitivity(2.0, 4, 3.0) == 1.5);
}

TEST_CASE("every activation's backward and exact HVP agree with differences of the loss and of gradients",
          "[engine]") {
    for (auto act : {nn::ActivationKind::Relu, nn::ActivationKind::Gelu, nn::ActivationKind::GeluTanh,
                     nn::ActivationKind::Tanh, nn::ActivationKind::Sigmoid, nn::ActivationKind::Swish,
                     nn::ActivationKind::Softmax, nn::ActivationKind::SoftCap, nn::ActivationKind::Linear}) {
        INFO(nn::activation_name(act));
        nn::Graph graph;
        graph.input.dims = {5};
        nn::Node dense;
        dense.name = dense.layer = "d";
        dense.kind = nn::OpKind::Dense;
        dense.inputs = {-1};
        dense.in.dims = {5};
        dense.out.dims = {4};
        dense.parameters = {{"kernel", "k", {5, 4}, 0, 20}, {"bias", "b", {4}, 20, 4}};
        nn::Node activation;
        activation.name = activation.layer = "a";
        activation.kind = nn::OpKind::Activation;
        activation.activation = act;
        activation.softcap = 0.8;  // read by SoftCap only; small enough to bend these values
        activation.inputs = {0};
        activation.in.dims = activation.out.dims = {4};
        nn::Node head = dense;
        head.name = head.layer = "h";
        head.inputs = {1};
        head.in.dims = {4};
        head.out.dims = {3};
        head.parameters = {{"kernel", "k2", {4, 3}, 24, 12}};
        graph.nodes = {dense, activation, head};
        graph.output = 2;
        for (int i = 0; i < 36; ++i)
            graph.parameters.push_back(std::sin(1.7 * i + 0.3));
        nn::Network<double> network(graph);
        Matrix<double> x(6, 5);
        for (Eigen::Index i = 0; i < x.size(); ++i)
            x.data()[i] = std::cos(0.9 * static_cast<double>(i)) * 1.5;
        const std::vector<std::int64_t> y = {0, 1, 2, 0, 1, 2};
        nn::Gradients<double> gradients;
        network.loss_and_gradient(x, y, gradients);
        const Eigen::VectorXd theta = network.parameters();
        for (Eigen::Index k = 0; k < theta.size(); ++k) {
            auto moved = network;
            Eigen::VectorXd t = theta;
            t[k] += 1e-6;
            moved.set_parameters(t);
            const double up = moved.loss(x, y);
            t[k] -= 2e-6;
            moved.set_parameters(t);
            CHECK((up - moved.loss(x, y)) / 2e-6 == Approx(gradients.parameters[k]).margin(1e-7));
        }
        Eigen::VectorXd v(theta.size());
        for (Eigen::Index k = 0; k < v.size(); ++k)
            v[k] = std::cos(2.3 * static_cast<double>(k));
        const Eigen::VectorXd exact = nn::hessian_vector(network, x, y, v);
        CHECK(relative(exact, StencilHessianVectorProducts(network, x, y)(v)) < 1e-7);
        CHECK(exact.norm() > 1e-3);  // a product that could be wrong: this Hessian is not zero
        CHECK_THROWS_AS(nn::hessian_vector(network, x, y, Eigen::VectorXd::Ones(3)), Error);
    }
}

TEST_CASE("the engine names what it cannot build or feed", "[engine]") {
    CHECK_THROWS_WITH(nn::keras_graph(Model::open(sample_path("tiny-gpt2"))),
                      Catch::Contains("model_config"));
    const nn::Network<double> network(nn::keras_graph(Model::open(sample_path("digits-mlp.h5"))));
    CHECK_THROWS_WITH(network.forward(Matrix<double>::Zero(3, 10)),
                      Catch::Contains("10 values per sample; the network takes [64] = 64"));
    nn::Gradients<double> gradients;
    CHECK_THROWS_WITH(network.loss_and_gradient(Matrix<double>::Zero(2, 64), {0, 10}, gradients),
                      Catch::Contains("labels[1]: class 10 outside the network's 10 outputs"));

    // a layer count given as a float too large for any integer is refused, not converted
    const auto config = nlohmann::json::parse(R"({"class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 1]}},
        {"class_name": "Conv2D", "config": {"name": "conv", "kernel_size": [3, 3], "filters": 2,
                                            "groups": 3e40}}]}})");
    nn::KerasWeights weights;
    weights.find = [](const std::string&, const std::vector<std::string>&) {
        return std::nullopt;
    };
    CHECK_THROWS_WITH(nn::keras_graph(config, weights, "m.h5"),
                      Catch::Contains("conv") && Catch::Contains("groups must be an integer"));
}

TEST_CASE("Hessian sensitivity reports each layer's trace and HAWQ's Omega per spec", "[engine]") {
    const auto model = Model::open(sample_path("digits-cnn.h5"));
    // Ω's arithmetic is what is checked here, not the estimate's convergence (the Hutchinson tests
    // do that): a few samples keep the sanitizer run short.
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 8);
    CHECK(data.x.rows() == 8);
    const std::vector<QuantSpec> specs = {QuantSpec::parse("int4:channel:asym"),
                                          QuantSpec::parse("int8:channel:sym")};
    HessianOptions options;
    options.hutchinson.max_samples = 6;
    const auto report = hessian_sensitivity(model, data, specs, options);
    REQUIRE(report.layers.size() == 8);
    for (const auto& layer : report.layers) {
        INFO(layer.layer);
        if (layer.layer == "batch_normalization") {
            CHECK(layer.omega.empty());
            continue;
        }  // no weight to quantize
        REQUIRE(layer.omega.size() == 2);
        CHECK(layer.omega[0] == Approx(layer.hutchinson.trace / static_cast<double>(layer.parameters) *
                                       weight_squared_error(model, layer.layer, specs[0])));
        if (layer.hutchinson.trace > 0)
            CHECK(layer.omega[0] > layer.omega[1]);  // fewer bits, more predicted damage
    }
}

TEST_CASE("labelled calibration data are checked by name, shape and type", "[engine]") {
    ScratchDir dir;
    const std::vector<float> x(12, 0.5f), y_float(3, 1.0f);
    const std::vector<std::int64_t> y(4, 1);
    write_npz(dir.file("bad.npz"),
              {{"x", DType::F32, {3, 4}, as_bytes_of(x)}, {"y", DType::I64, {4}, as_bytes_of(y)}});
    CHECK_THROWS_WITH(load_labelled_data(dir.file("bad.npz")),
                      Catch::Contains("y: labels must be 1-D with one per sample (3)"));
    write_npz(dir.file("float.npz"), {{"inputs", DType::F32, {3, 4}, as_bytes_of(x)},
                                      {"labels", DType::F32, {3}, as_bytes_of(y_float)}});
    CHECK_THROWS_WITH(load_labelled_data(dir.file("float.npz")),
                      Catch::Contains("labels: labels must be integers, found F32"));
    write_npz(dir.file("none.npz"), {{"a", DType::F32, {3, 4}, as_bytes_of(x)}});
    CHECK_THROWS_WITH(load_labelled_data(dir.file("none.npz")),
                      Catch::Contains("inputs: no tensor named x or inputs"));
    const auto model = Model::open(sample_path("digits-cnn.h5"));
    write_npz(dir.file("narrow.npz"), {{"x", DType::F32, {3, 2, 2}, as_bytes_of(x)},
                                       {"y", DType::I64, {3}, as_bytes_of(std::vector<std::int64_t>(3, 1))}});
    CHECK_THROWS_WITH(hessian_sensitivity(model, load_labelled_data(dir.file("narrow.npz")), {}),
                      Catch::Contains("narrow.npz: inputs: [2, 2] = 4 values per sample"));
    CHECK_THROWS_WITH(hessian_sensitivity(model, load_labelled_data(dir.file("narrow.npz")), {}),
                      Catch::Contains("takes [8, 8, 1] = 64"));
}

#include <catch2/catch.hpp>

#include <cmath>

#include "nn/dense_network.hpp"
#include "io/numpy.hpp"
#include "quant/quantizer.hpp"
#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/hessian_trace.hpp"
#include "tensor/convert.hpp"
#include "test_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

namespace {

struct Calibration {
    Eigen::MatrixXd x;
    std::vector<std::int64_t> y;
};

// The first 32 samples of the calibration file, as the goldens were computed.
Calibration digits_calibration() {
    const auto file = open_model_file(sample_path("digits-calib.npz"));
    const auto& x_info = file->tensor("x");
    const auto x = file->read_f32(x_info);
    Calibration c;
    c.x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(x.values().data(), x_info.shape[0], x_info.shape[1]).topRows(32).cast<double>();
    const auto y = file->read_f32(file->tensor("y"));
    for (std::size_t i = 0; i < 32; ++i) c.y.push_back(static_cast<std::int64_t>(y.values()[i]));
    return c;
}

Eigen::VectorXd golden(const std::string& name) {
    const auto file = open_model_file(data_path("golden/digits_engine.npz"));
    const auto& info = file->tensor(name);
    std::vector<double> values(info.elements());
    const auto bytes = file->read(info);
    decode_to_f64(info.dtype, bytes.bytes(), values);
    return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
}

double relative(const Eigen::VectorXd& a, const Eigen::VectorXd& b) { return (a - b).norm() / b.norm(); }

}  // namespace

TEST_CASE("the digits MLP's forward, loss, gradient and Hessian-vector product match PyTorch in float64") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto network = DenseNetwork::from_keras(model);
    REQUIRE(network.layers().size() == 2);
    CHECK(network.layers()[0].activation == Activation::Relu);
    CHECK(network.layers()[1].activation == Activation::Softmax);
    CHECK(network.parameter_count() == 2410);
    const auto calibration = digits_calibration();

    const Eigen::MatrixXd logits = network.forward(calibration.x);
    const auto golden_logits = golden("logits");
    CHECK(relative(Eigen::Map<const Eigen::VectorXd>(Eigen::MatrixXd(logits.transpose()).data(), logits.size()), golden_logits) < 1e-12);
    Eigen::VectorXd gradient;
    const double loss = network.loss_and_gradient(calibration.x, calibration.y, gradient);
    CHECK(loss == Approx(golden("loss")[0]).epsilon(1e-12));
    CHECK(relative(gradient, golden("gradient")) < 1e-9);
    const auto hv = network.hessian_vector(calibration.x, calibration.y, golden("v"));
    CHECK(relative(hv, golden("hvp")) < 1e-9);
    // and the R-operator agrees with central differences of the gradient (independent of it)
    const Eigen::VectorXd theta = network.parameters(), v = golden("v");
    auto moved = network;
    Eigen::VectorXd plus, minus;
    const double eps = 1e-6;
    moved.set_parameters(theta + eps * v);
    moved.loss_and_gradient(calibration.x, calibration.y, plus);
    moved.set_parameters(theta - eps * v);
    moved.loss_and_gradient(calibration.x, calibration.y, minus);
    CHECK(relative((plus - minus) / (2 * eps), hv) < 1e-5);
}

TEST_CASE("per-layer Hessian traces: exact ones match PyTorch, Hutchinson's fall within three standard errors") {
    const auto network = DenseNetwork::from_keras(Model::open(sample_path("digits-mlp.h5")));
    const auto calibration = digits_calibration();
    const HessianVectorProduct hvp = [&](const Eigen::VectorXd& v) { return network.hessian_vector(calibration.x, calibration.y, v); };
    const auto golden_traces = golden("traces");
    const auto blocks = network.blocks();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        INFO(blocks[b].layer);
        const double exact = exact_block_trace(hvp, network.parameter_count(), blocks[b]);
        CHECK(exact == Approx(golden_traces[static_cast<Eigen::Index>(b)]).epsilon(1e-9));
        HutchinsonOptions options;
        options.seed = 42;
        const auto estimate = hutchinson_trace(hvp, network.parameter_count(), blocks[b], options);
        CHECK(estimate.samples >= 2);
        CHECK(estimate.samples <= 100);
        CHECK(estimate.standard_error > 0);
        CHECK(std::fabs(estimate.trace - exact) <= 3 * estimate.standard_error);
        // seeded: the same estimate again
        CHECK(hutchinson_trace(hvp, network.parameter_count(), blocks[b], options).trace == estimate.trace);
    }
    CHECK(hawq_sensitivity(2.0, 4, 3.0) == 1.5);
}

TEST_CASE("the engine names what it cannot build or feed") {
    const auto gpt2 = Model::open(sample_path("tiny-gpt2"));
    CHECK_THROWS_WITH(DenseNetwork::from_keras(gpt2), Catch::Contains("model_config"));
    const auto network = DenseNetwork::from_keras(Model::open(sample_path("digits-mlp.h5")));
    CHECK_THROWS_WITH(network.forward(Eigen::MatrixXd::Zero(3, 10)), Catch::Contains("10 features per sample, the network takes 64"));
    Eigen::VectorXd gradient;
    CHECK_THROWS_WITH(network.loss_and_gradient(Eigen::MatrixXd::Zero(2, 64), {0, 10}, gradient), Catch::Contains("labels[1]: class 10 outside the network's 10 outputs"));
}

TEST_CASE("Hessian sensitivity reports each layer's trace and HAWQ's Omega per spec") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 32);
    CHECK(data.x.rows() == 32);
    HessianOptions options;
    options.exact = true;
    const std::vector<QuantSpec> specs = {QuantSpec::parse("int4:channel:asym"), QuantSpec::parse("int8:channel:sym")};
    const auto report = hessian_sensitivity(model, data, specs, options);
    REQUIRE(report.layers.size() == 2);
    for (const auto& layer : report.layers) {
        INFO(layer.layer);
        REQUIRE(layer.exact);
        CHECK(std::fabs(layer.hutchinson.trace - *layer.exact) <= 3 * layer.hutchinson.standard_error);
        const auto weights = model.read_weights(model.layer(layer.layer));
        const auto int4 = quantize(as_matrix(weights.values(), weights.shape), specs[0]);
        CHECK(layer.omega[0] == Approx(layer.hutchinson.trace / static_cast<double>(layer.parameters) * int4.metrics.mse * static_cast<double>(weights.values().size())));
        CHECK(layer.omega[0] > layer.omega[1]);  // fewer bits, more predicted damage
    }
}

TEST_CASE("labelled calibration data are checked by name, shape and type") {
    ScratchDir dir;
    const std::vector<float> x(12, 0.5f), y_float(3, 1.0f);
    const std::vector<std::int64_t> y(4, 1);
    write_npz(dir.file("bad.npz"), {{"x", DType::F32, {3, 4}, as_bytes_of(x)}, {"y", DType::I64, {4}, as_bytes_of(y)}});
    CHECK_THROWS_WITH(load_labelled_data(dir.file("bad.npz")), Catch::Contains("y: labels must be 1-D with one per sample (3)"));
    write_npz(dir.file("float.npz"), {{"inputs", DType::F32, {3, 4}, as_bytes_of(x)}, {"labels", DType::F32, {3}, as_bytes_of(y_float)}});
    CHECK_THROWS_WITH(load_labelled_data(dir.file("float.npz")), Catch::Contains("labels: labels must be integers, found F32"));
    write_npz(dir.file("none.npz"), {{"a", DType::F32, {3, 4}, as_bytes_of(x)}});
    CHECK_THROWS_WITH(load_labelled_data(dir.file("none.npz")), Catch::Contains("inputs: no tensor named x or inputs"));
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    write_npz(dir.file("narrow.npz"), {{"x", DType::F32, {3, 4}, as_bytes_of(x)}, {"y", DType::I64, {3}, as_bytes_of(std::vector<std::int64_t>(3, 1))}});
    CHECK_THROWS_WITH(hessian_sensitivity(model, load_labelled_data(dir.file("narrow.npz")), {}), Catch::Contains("4 features per sample, the network takes 64"));
}

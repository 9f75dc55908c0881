#include <catch2/catch.hpp>

#include <cmath>

#include "nn/keras_graph.hpp"
#include "quant/quantizer.hpp"
#include "stats/layer_statistics.hpp"
#include "stats/qsur.hpp"
#include "sensitivity/layer_damage.hpp"
#include "sensitivity/lrp.hpp"
#include "sensitivity/sensitivity_report.hpp"
#include "tensor/convert.hpp"
#include "engine_support.hpp"

using namespace quantlens;
using namespace quantlens::test;

TEST_CASE("LRP input relevances match a PyTorch implementation of the same rules", "[engine]") {
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 32);
    const auto mlp = Model::open(sample_path("digits-mlp.h5"));
    CHECK(relative(flat_rows(lrp_sensitivity(mlp, data).input_relevance),
                   EngineGolden("digits_engine.npz")("relevance__epsilon")) < 1e-9);
    LrpOptions gamma;
    gamma.rule = LrpRule::Gamma;
    CHECK(relative(flat_rows(lrp_sensitivity(mlp, data, gamma).input_relevance),
                   EngineGolden("digits_engine.npz")("relevance__gamma")) < 1e-9);
    // BatchNorm folded into its convolution, residual Adds, max and average pools, a two-branch head
    const auto cnn = lrp_sensitivity(Model::open(sample_path("digits-cnn.h5")), data);
    CHECK(relative(flat_rows(cnn.input_relevance),
                   EngineGolden("digits_cnn_engine.npz")("relevance__epsilon")) < 1e-9);
    double sum = 0;
    for (const auto& layer : cnn.layers)
        sum += layer.contribution;
    CHECK(sum == Approx(1.0));
    CHECK(cnn.layers.size() == 7);  // the weighted layers; batch_normalization is folded into conv2d
    CHECK(cnn.layers.front().layer == "conv2d");
}

TEST_CASE("LRP conserves relevance on a bias-free network as epsilon goes to zero, for every rule",
          "[engine]") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    auto graph = nn::keras_graph(model);
    for (const auto& node : graph.nodes)
        if (const auto* bias = node.slot("bias"))
            for (std::size_t i = 0; i < bias->size; ++i)
                graph.parameters[bias->offset + i] = 0;
    const nn::Network<double> network(graph);
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 64);
    for (auto rule : {LrpRule::Epsilon, LrpRule::Gamma, LrpRule::ZPlus}) {
        INFO(lrp_rule_name(rule));
        LrpOptions options;
        options.rule = rule;
        options.epsilon = 1e-12;
        const auto result = relevance(network, data.x, data.y, options);
        CHECK(result.conservation_error < 1e-6);
        for (const auto& node : result.nodes)
            CHECK(node.conservation_error < 1e-6);
    }
    // with biases, LRP-epsilon lets the bias take its share: conservation is approximate, and reported
    const auto biased = lrp_sensitivity(model, data);
    CHECK(biased.conservation_error > 1e-6);
    CHECK_THROWS_WITH(lrp_rule_from_name("alpha2beta1"), Catch::Contains("expected epsilon, gamma or zplus"));
}

TEST_CASE("measured damage: nothing for a lossless spec, and it rises as bits fall", "[engine]") {
    const auto model = Model::open(sample_path("digits-cnn.h5"));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"));
    const std::vector<QuantSpec> specs = {QuantSpec::parse("f32"), QuantSpec::parse("int8:channel:sym"),
                                          QuantSpec::parse("int4:channel:sym"),
                                          QuantSpec::parse("int2:channel:sym")};
    const auto report = layer_damage(model, data, specs);
    CHECK(report.samples == 256);
    CHECK(report.accuracy > 0.95);
    REQUIRE(report.layers.size() == 7);
    double total4 = 0, total2 = 0;
    for (const auto& layer : report.layers) {
        INFO(layer.layer << " dloss " << layer.delta_loss[1] << " " << layer.delta_loss[2] << " "
                         << layer.delta_loss[3] << " kl " << layer.kl[1] << " " << layer.kl[2] << " "
                         << layer.kl[3] << " fisher " << layer.fisher[1] << " " << layer.fisher[2] << " "
                         << layer.fisher[3]);
        CHECK(layer.delta_loss[0] == 0.0);
        CHECK(layer.kl[0] == 0.0);
        CHECK(layer.fisher[0] == 0.0);
        CHECK(layer.proxy_damage[0] == 0.0);
        CHECK(layer.kl[1] < layer.kl[2]);
        CHECK(layer.kl[2] < layer.kl[3]);
        CHECK(layer.fisher[2] < layer.fisher[3]);
        CHECK(layer.proxy_damage[1] < layer.proxy_damage[2]);
        CHECK(layer.delta_loss[3] > 0);
        total4 += layer.delta_loss[2];
        total2 += layer.delta_loss[3];
    }
    CHECK(total4 > 0);
    CHECK(total2 > total4);
}

TEST_CASE("the proxy is Tr(2XᵀX)/N of the captured inputs, and GPTQ quantizes with them", "[engine]") {
    const auto model = Model::open(sample_path("digits-mlp.h5"));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 100);
    const auto report = layer_damage(
        model, data, {QuantSpec::parse("int4:channel:sym"), QuantSpec::parse("int4:channel:sym:round=gptq")},
        {.float64 = true});
    const auto& first = report.layers.front();
    CHECK(first.layer == "dense");
    CHECK(first.proxy_trace == Approx(2 * data.x.squaredNorm() / 100).epsilon(1e-12));
    // the captured inputs' statistics are those of the calibration x itself for the first layer
    const nn::Matrix<float> x_first = data.x.cast<float>();
    const std::span<const float> first_values(x_first.data(), static_cast<std::size_t>(x_first.size()));
    CHECK(first.activation_kurtosis ==
          Approx(layer_statistics(first_values, x_first.rows(), x_first.cols()).excess_kurtosis));
    QsurOptions no_rotation;
    no_rotation.rotated = false;
    CHECK(first.activation_qsur ==
          Approx(qsur(first_values, x_first.rows(), x_first.cols(), no_rotation).per_dimension));
    // NumPy on the same 100 rows: mean(max|x| / median|x|) over the 56 rows whose median is not 0
    CHECK(first.activation_mmr == Approx(14.2875).epsilon(1e-12));
    REQUIRE(first.importance.size() == 64);
    CHECK(first.importance[10] == Approx(data.x.col(10).squaredNorm() / 100).epsilon(1e-12));
    // GPTQ got the layer's captured inputs (the calibration x itself for the first layer) and
    // lowers the output error ‖ΔW·X‖² it minimises
    const nn::Matrix<float> x = data.x.cast<float>();
    const CalibrationInputs inputs{{x.data(), static_cast<std::size_t>(x.size())}, x.rows(), x.cols()};
    const auto weights = model.read_weights(model.layer("dense"));
    QuantOptions options;
    options.inputs = &inputs;
    double output_error[2];
    for (int s = 0; s < 2; ++s) {
        const auto result = quantize(as_matrix(weights.values(), weights.shape),
                                     report.specs[static_cast<std::size_t>(s)], options);
        CHECK(result.metrics.mse == first.weight_mse[static_cast<std::size_t>(s)]);
        Eigen::MatrixXd delta(weights.shape[0], weights.shape[1]);
        for (Eigen::Index i = 0; i < delta.size(); ++i)
            delta(i / delta.cols(), i % delta.cols()) = result.dequantized[static_cast<std::size_t>(i)] -
                                                        weights.values()[static_cast<std::size_t>(i)];
        output_error[s] = (data.x * delta.transpose()).squaredNorm();
    }
    CHECK(output_error[1] < output_error[0]);
    const auto cnn = Model::open(sample_path("digits-cnn.h5"));
    CHECK_THROWS_WITH(layer_damage(cnn, data, {QuantSpec::parse("int4:channel:sym:round=gptq")}),
                      Catch::Contains("depthwise_conv2d"));
}

TEST_CASE(
    "the sensitivity report joins every metric, ranks the predictors against the measured delta loss, and is "
    "cached",
    "[engine]") {
    ScratchDir cache;
    const auto model = Model::open(sample_path("digits-cnn.h5"));
    const auto data = load_labelled_data(sample_path("digits-calib.npz"), 64);
    SensitivityRequest request;
    request.specs = {QuantSpec::parse("int4:channel:sym"), QuantSpec::parse("int2:channel:sym")};
    request.hessian_options.hutchinson.max_samples = 8;
    request.cache_dir = cache.path();
    const auto report = model_sensitivity(model, data, request);
    CHECK_FALSE(report.from_cache);
    REQUIRE(report.layers.size() == 7);
    for (const auto& layer : report.layers) {
        INFO(layer.layer);
        CHECK(layer.hessian);
        CHECK(layer.lrp);
        REQUIRE(layer.damage);
        CHECK(layer.damage->delta_loss.size() == 2);
    }
    REQUIRE(report.lrp_conservation_error);
    std::vector<std::string> ranked;
    for (const auto& a : report.agreement) {
        CHECK(a.layers == (a.predictor.rfind("activation_", 0) == 0
                               ? 6u
                               : 7u));  // the depthwise layer has no single input matrix
        CHECK(std::fabs(a.rho) <= 1.0);
        if (a.spec == "int2:channel:sym")
            ranked.push_back(a.predictor);
    }
    CHECK(ranked == std::vector<std::string>{"hessian_omega", "fisher", "proxy", "lrp", "weight_mse",
                                             "kurtosis", "mmr", "qsur", "activation_kurtosis",
                                             "activation_qsur", "activation_mmr", "kl"});
    const auto again = model_sensitivity(model, data, request);
    CHECK(again.from_cache);
    CHECK(to_json(again).dump() == to_json(report).dump());
    // another spec, sample count or metric set is another entry
    request.specs.pop_back();
    CHECK_FALSE(model_sensitivity(model, data, request).from_cache);
    set_metrics(request, "proxy");
    const auto proxy = model_sensitivity(model, data, request);
    CHECK_FALSE(proxy.layers.front().hessian);
    CHECK_FALSE(proxy.layers.front().lrp);
    CHECK(proxy.layers.front().damage->delta_loss.empty());
    CHECK(proxy.agreement.empty());  // nothing measured to rank against
    CHECK_THROWS_WITH(set_metrics(request, "hessian,taylor"), Catch::Contains("--metrics \"taylor\""));
    CHECK_THROWS_WITH(sensitivity_from_json(nlohmann::json{{"schema", "quantlens.sensitivity/2"}}, "x.json"),
                      Catch::Contains("x.json: model: missing"));
}

TEST_CASE("the text report's best predictor is the best-ranked one, never the measured KL") {
    SensitivityReport report;
    report.specs = {QuantSpec::parse("int4:channel:sym")};
    report.agreement = {{"int4:channel:sym", "lrp", 0.64, 7},
                        {"int4:channel:sym", "kl", 0.82, 7},  // a damage measure, not a predictor
                        {"int4:channel:sym", "fisher", 0.46, 7}};
    const auto text = to_table(report);
    CHECK_THAT(text, Catch::Contains("kl 0.82"));  // still listed with the others
    CHECK_THAT(text, Catch::Contains("best: lrp rho 0.64 over 7 layers, p = 0.12: weak"));
}

#include "sensitivity/layer_damage.hpp"

#include <cmath>

#include "nn/hf_graph.hpp"
#include "nn/layer_inputs.hpp"
#include "quant/quantizer.hpp"
#include "stats/layer_statistics.hpp"
#include "stats/qsur.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

// Mean over the predictions (samples, or every token position of a language model).
template <typename T>
double mean_kl(const nn::Network<T>& network, const nn::Matrix<T>& reference_logits,
               const nn::Matrix<T>& logits) {
    const nn::Matrix<double> p =
        nn::softmax_rows<double>(network.position_logits(reference_logits).template cast<double>());
    const nn::Matrix<double> q =
        nn::softmax_rows<double>(network.position_logits(logits).template cast<double>());
    double total = 0;
    for (Eigen::Index i = 0; i < p.size(); ++i)
        if (p.data()[i] > 0)
            total += p.data()[i] * (std::log(p.data()[i]) - std::log(std::max(q.data()[i], 1e-300)));
    return p.rows() ? total / static_cast<double>(p.rows()) : 0.0;
}

template <typename T>
DamageReport run(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs,
                 bool measure, const Progress& progress, const CancelToken* cancel) {
    nn::Network<T> network(nn::model_graph(model, data.x.cols()));
    const auto& graph = network.graph();
    check_fits(data, graph, model.file().path());
    const nn::Matrix<T> x = data.x.template cast<T>();
    const auto n = static_cast<double>(x.rows());
    nn::ForwardTrace<T> reference;
    nn::Gradients<T> gradients;
    DamageReport report;
    report.samples = static_cast<std::size_t>(x.rows());
    report.float64 = std::is_same_v<T, double>;
    report.specs = specs;
    if (measure)
        report.loss = network.loss_and_gradient(x, data.y, gradients, true, &reference);
    else {
        reference = network.run(x);
        report.loss = network.objective(reference.outputs[static_cast<std::size_t>(graph.output)], x, data.y);
    }
    const auto& logits = reference.outputs[static_cast<std::size_t>(graph.output)];
    {  // top-1 over the predictions that have a target
        const auto rows = network.position_logits(logits);
        const auto targets = network.targets(x, data.y);
        double counted = 0;
        for (Eigen::Index r = 0; r < rows.rows(); ++r) {
            if (targets[static_cast<std::size_t>(r)] < 0)
                continue;
            Eigen::Index best = 0;
            rows.row(r).maxCoeff(&best);
            report.accuracy += best == targets[static_cast<std::size_t>(r)] ? 1.0 : 0.0;
            ++counted;
        }
        report.accuracy /= std::max(counted, 1.0);
    }
    const nn::Vector<T> theta = network.parameters();
    std::vector<int> quantizable;
    for (std::size_t k = 0; k < graph.nodes.size(); ++k)
        if (graph.nodes[k].slot("kernel"))
            quantizable.push_back(static_cast<int>(k));
    std::size_t step = 0;
    const std::size_t steps = quantizable.size() * std::max<std::size_t>(specs.size(), 1);
    for (int k : quantizable) {
        const auto& node = graph.nodes[static_cast<std::size_t>(k)];
        const auto& kernel = *node.slot("kernel");
        const Layer& layer = model.layer(node.layer);
        LayerDamage damage;
        damage.layer = node.layer;
        damage.op = nn::op_name(node.kind);
        damage.weights = kernel.size;
        const Eigen::MatrixXd square_sums = nn::input_square_sums(node, reference);
        damage.proxy_trace = 2 * square_sums.rowwise().sum().mean() / n;
        if (node.kind != nn::OpKind::DepthwiseConv2D)
            for (Eigen::Index c = 0; c < square_sums.cols(); ++c)
                damage.importance.push_back(square_sums(0, c) / n);
        const auto inputs = nn::layer_inputs(node, reference);
        if (inputs) {
            damage.input_rows = static_cast<std::size_t>(inputs->rows());
            const std::span<const float> values(inputs->data(), static_cast<std::size_t>(inputs->size()));
            damage.activation_kurtosis =
                layer_statistics(values, inputs->rows(), inputs->cols()).excess_kurtosis;
            damage.activation_mmr = row_max_to_median(values, inputs->rows(), inputs->cols());
            QsurOptions qsur_options;
            qsur_options.rotated = false;
            if (inputs->rows() >= 2)
                damage.activation_qsur =
                    qsur(values, inputs->rows(), inputs->cols(), qsur_options).per_dimension;
        }
        const CalibrationInputs calibration{
            inputs ? std::span<const float>(inputs->data(), static_cast<std::size_t>(inputs->size()))
                   : std::span<const float>(),
            inputs ? inputs->rows() : 0, inputs ? inputs->cols() : 0};
        const auto weights = model.read_weights(layer);
        const auto& y = reference.outputs[static_cast<std::size_t>(k)];
        for (const auto& spec : specs) {
            if (progress)
                progress(step, steps, node.layer + " " + spec.to_string());
            if (cancel)
                cancel->throw_if_cancelled();
            ++step;
            QuantOptions options;
            options.cancel = cancel;
            options.codes = options.error_histogram = false;
            options.importance = model.importance(layer);
            if (inputs)
                options.inputs = &calibration;
            else if (spec.rounding == Rounding::Gptq || spec.smooth_alpha >= 0)
                throw Error(model.file().path(), "layer \"" + node.layer + "\"",
                            spec.to_string() + " needs the layer's inputs, which a " + damage.op +
                                " has no single matrix of");
            const auto result = quantize(as_matrix(weights.values(), weights.shape), spec, options);
            damage.weight_mse.push_back(result.metrics.mse);
            double predicted = 0;
            const auto cols = static_cast<std::size_t>(square_sums.cols());
            for (std::size_t i = 0; i < result.dequantized.size(); ++i) {
                const double e = static_cast<double>(result.dequantized[i]) - weights.values()[i];
                predicted +=
                    e * e *
                    square_sums(static_cast<Eigen::Index>(i / cols), static_cast<Eigen::Index>(i % cols));
            }
            damage.proxy_damage.push_back(predicted / n);
            if (!measure)
                continue;
            network.set_slot(kernel, to_stored_layout(result.dequantized, kernel.shape, layer.orientation));
            const auto quantized = network.run(x);
            const auto& logits_q = quantized.outputs[static_cast<std::size_t>(graph.output)];
            damage.delta_loss.push_back(network.objective(logits_q, x, data.y) - report.loss);
            damage.kl.push_back(mean_kl<T>(network, logits, logits_q));
            // ∂ℓ_n/∂y = N·∂L/∂y for the mean loss L; the upstream input is unchanged, so y_Q is the quantized
            // run's output here
            const auto& y_q = quantized.outputs[static_cast<std::size_t>(k)];
            const auto& dy = gradients.outputs[static_cast<std::size_t>(k)];
            damage.fisher.push_back(
                (dy.template cast<double>().array() * n * (y_q - y).template cast<double>().array())
                    .square()
                    .sum() /
                n);
            network.set_parameters(theta);
        }
        report.layers.push_back(std::move(damage));
    }
    if (progress)
        progress(steps, steps, "");
    return report;
}

}  // namespace

DamageReport layer_damage(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs,
                          const DamageOptions& options, const Progress& progress, const CancelToken* cancel) {
    return options.float64 ? run<double>(model, data, specs, options.measure, progress, cancel)
                           : run<float>(model, data, specs, options.measure, progress, cancel);
}

}  // namespace quantlens

#include "sensitivity/layer_damage.hpp"

#include <cmath>
#include <functional>

#include "nn/hf_graph.hpp"
#include "nn/layer_inputs.hpp"
#include "nn/streamed_network.hpp"
#include "quant/quantizer.hpp"
#include "stats/layer_statistics.hpp"
#include "stats/qsur.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

// Mean over the predictions (samples, or every token position of a language model).
// Row by row: two [predictions, vocabulary] float64 copies would outweigh the model's layers.
template <typename T>
double mean_kl(const nn::Graph& graph, const nn::Matrix<T>& reference_logits, const nn::Matrix<T>& logits) {
    const auto reference = nn::position_logits(graph, reference_logits),
               quantized = nn::position_logits(graph, logits);
    double total = 0;
    for (Eigen::Index r = 0; r < reference.rows(); ++r) {
        const nn::Matrix<double> p = nn::softmax_rows<double>(reference.row(r).template cast<double>());
        const nn::Matrix<double> q = nn::softmax_rows<double>(quantized.row(r).template cast<double>());
        for (Eigen::Index i = 0; i < p.size(); ++i)
            if (p.data()[i] > 0)
                total += p.data()[i] * (std::log(p.data()[i]) - std::log(std::max(q.data()[i], 1e-300)));
    }
    return reference.rows() ? total / static_cast<double>(reference.rows()) : 0.0;
}

// Progress over (layer, spec) steps, and cancel between them.
struct Steps {
    const Progress& progress;
    const CancelToken* cancel;
    std::size_t done = 0, total = 0;
    void next(const std::string& what) {
        if (progress)
            progress(done, total, what);
        if (cancel)
            cancel->throw_if_cancelled();
        ++done;
    }
};

// Called after each spec's quantization of a layer with the spec's index and its result: the
// measured path's Δloss, KL and Fisher–Taylor.
using MeasureSpec = std::function<void(std::size_t spec, const QuantResult& result, LayerDamage& damage)>;

// What a layer's captured input x gives: the proxy, the input's statistics and, per spec, the
// quantization's weight error and the damage the proxy predicts.
template <typename T>
LayerDamage input_figures(const Model& model, const nn::Node& node, const nn::Matrix<T>& x, double n,
                          const std::vector<QuantSpec>& specs, Steps& steps, const MeasureSpec& measure) {
    const Layer& layer = model.layer(node.layer);
    LayerDamage damage;
    damage.layer = node.layer;
    damage.op = nn::op_name(node.kind);
    damage.weights = node.slot("kernel")->size;
    const Eigen::MatrixXd square_sums = nn::input_square_sums(node, x);
    damage.proxy_trace = 2 * square_sums.rowwise().sum().mean() / n;
    if (node.kind != nn::OpKind::DepthwiseConv2D)
        for (Eigen::Index c = 0; c < square_sums.cols(); ++c)
            damage.importance.push_back(square_sums(0, c) / n);
    const auto inputs = nn::layer_inputs(node, x);
    if (inputs) {
        damage.input_rows = static_cast<std::size_t>(inputs->rows());
        const std::span<const float> values(inputs->data(), static_cast<std::size_t>(inputs->size()));
        damage.activation_kurtosis = layer_statistics(values, inputs->rows(), inputs->cols()).excess_kurtosis;
        damage.activation_mmr = row_max_to_median(values, inputs->rows(), inputs->cols());
        QsurOptions qsur_options;
        qsur_options.rotated = false;
        if (inputs->rows() >= 2)
            damage.activation_qsur = qsur(values, inputs->rows(), inputs->cols(), qsur_options).per_dimension;
    }
    if (specs.empty())
        steps.next(node.layer);
    const CalibrationInputs calibration{
        inputs ? std::span<const float>(inputs->data(), static_cast<std::size_t>(inputs->size()))
               : std::span<const float>(),
        inputs ? inputs->rows() : 0, inputs ? inputs->cols() : 0};
    const auto weights = specs.empty() ? LayerWeights() : model.read_weights(layer);
    for (std::size_t s = 0; s < specs.size(); ++s) {
        const auto& spec = specs[s];
        steps.next(node.layer + " " + spec.to_string());
        QuantOptions options;
        options.cancel = steps.cancel;
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
        const auto rows = static_cast<std::size_t>(square_sums.rows());
        for (std::size_t i = 0; i < result.dequantized.size(); ++i) {
            const double e = static_cast<double>(result.dequantized[i]) - weights.values()[i];
            predicted +=
                e * e *
                square_sums(static_cast<Eigen::Index>(i / cols % rows), static_cast<Eigen::Index>(i % cols));
        }
        damage.proxy_damage.push_back(predicted / n);
        if (measure)
            measure(s, result, damage);
    }
    return damage;
}

// The loss and the top-1 accuracy over the predictions that have a target.
template <typename T>
void score(DamageReport& report, const nn::Graph& graph, const nn::Matrix<T>& logits, const nn::Matrix<T>& x,
           const std::vector<std::int64_t>& labels) {
    report.loss = nn::objective(graph, logits, x, labels);
    const auto rows = nn::position_logits(graph, logits);
    const auto targets = nn::targets(graph, x, labels);
    double counted = 0, correct = 0;
    for (Eigen::Index r = 0; r < rows.rows(); ++r) {
        if (targets[static_cast<std::size_t>(r)] < 0)
            continue;
        Eigen::Index best = 0;
        rows.row(r).maxCoeff(&best);
        correct += best == targets[static_cast<std::size_t>(r)] ? 1.0 : 0.0;
        ++counted;
    }
    report.accuracy = correct / std::max(counted, 1.0);
}

std::size_t quantizable_count(const nn::Graph& graph) {
    std::size_t count = 0;
    for (const auto& node : graph.nodes)
        count += node.slot("kernel") ? 1 : 0;
    return count;
}

// Both paths stream (nn/streamed_network.hpp): no copy of the model in memory. Forward-only, each
// layer's figures are taken as its input goes by. Measured, the forward pass keeps a checkpoint
// between sublayers; a backward sweep recomputes one stretch at a time from its checkpoint, and
// there each layer's quantized twin runs on the same input (Fisher–Taylor's y_Q) and from the
// checkpoint to the logits (Δloss, KL).
template <typename T>
DamageReport run(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs,
                 bool measure, const Progress& progress, const CancelToken* cancel) {
    const auto graph = nn::model_graph(model, data.x.cols(), false);
    check_fits(data, graph, model.file().path());
    const nn::StreamedNetwork<T> network(model, graph);
    const nn::Matrix<T> x = data.x.template cast<T>();
    const auto n = static_cast<double>(x.rows());
    DamageReport report;
    report.samples = static_cast<std::size_t>(x.rows());
    report.float64 = std::is_same_v<T, double>;
    report.specs = specs;
    Steps steps{progress, cancel, 0, quantizable_count(graph) * std::max<std::size_t>(specs.size(), 1)};
    if (!measure) {
        const auto logits = network.forward(
            x,
            [&](int k, const nn::Inputs<T>& inputs, const nn::Matrix<T>&) {
                const auto& node = graph.nodes[static_cast<std::size_t>(k)];
                if (node.slot("kernel"))
                    report.layers.push_back(input_figures(model, node, *inputs.front(), n, specs, steps, {}));
            },
            cancel);
        score(report, graph, logits, x, data.y);
    } else {
        std::vector<nn::Checkpoint<T>> checkpoints;
        const auto logits = network.forward(x, {}, cancel, &checkpoints);
        score(report, graph, logits, x, data.y);
        nn::Matrix<T> gradient;
        nn::objective(graph, logits, x, data.y, &gradient);
        std::vector<LayerDamage> reversed;
        for (std::size_t j = checkpoints.size(); j-- > 0;) {
            const auto& from = checkpoints[j];
            const bool last = j + 1 == checkpoints.size();
            const auto segment = network.backward(
                x, from, last ? static_cast<int>(graph.nodes.size()) : checkpoints[j + 1].node,
                last ? graph.output : checkpoints[j + 1].value, std::move(gradient));
            for (int k = segment.end; k-- > segment.first;) {
                const auto& node = graph.nodes[static_cast<std::size_t>(k)];
                const auto* kernel = node.slot("kernel");
                if (!kernel)
                    continue;
                const Layer& layer = model.layer(node.layer);
                nn::Inputs<T> inputs;
                for (int i : node.inputs)
                    inputs.push_back(&segment.output_of(i, x));
                const auto& y = segment.outputs[static_cast<std::size_t>(k)];
                const auto& dy = segment.gradients[static_cast<std::size_t>(k)];
                // the twin resumes before the kernel's first reader (a tied embedding's lookup)
                const int first_reader = nn::first_reader(graph, kernel->offset, kernel->size);
                std::size_t resume_at = j;
                while (checkpoints[resume_at].node > first_reader)
                    --resume_at;
                const auto measure_spec = [&](std::size_t, const QuantResult& result, LayerDamage& damage) {
                    const auto values = nn::graph_order(
                        *kernel, to_stored_layout(result.dequantized, kernel->shape, layer.orientation));
                    const nn::Vector<T> quantized =
                        Eigen::Map<const Eigen::VectorXf>(values.data(),
                                                          static_cast<Eigen::Index>(values.size()))
                            .template cast<T>();
                    nn::ParameterHooks<T> twin;
                    twin.adjust = [&](const nn::ParameterSlot& slot, Eigen::Ref<nn::Vector<T>> read) {
                        if (slot.offset == kernel->offset)
                            read = quantized;
                    };
                    nn::Matrix<T> y_q;  // the layer's output in the twin
                    const auto logits_q = network.resume(
                        x, checkpoints[resume_at], twin,
                        [&](int node_index, const nn::Inputs<T>&, const nn::Matrix<T>& output) {
                            if (node_index == k)
                                y_q = output;
                        },
                        cancel);
                    damage.delta_loss.push_back(nn::objective(graph, logits_q, x, data.y) - report.loss);
                    damage.kl.push_back(mean_kl<T>(graph, logits, logits_q));
                    // ∂ℓ_n/∂y = N·∂L/∂y for the mean loss L
                    damage.fisher.push_back(dy.size() == 0 ? 0.0
                                                           : (dy.template cast<double>().array() * n *
                                                              (y_q - y).template cast<double>().array())
                                                                     .square()
                                                                     .sum() /
                                                                 n);
                };
                reversed.push_back(
                    input_figures(model, node, *inputs.front(), n, specs, steps, measure_spec));
            }
            if (from.value >= 0)
                gradient = segment.gradients[static_cast<std::size_t>(from.value)];
        }
        report.layers.assign(reversed.rbegin(), reversed.rend());
    }
    if (progress)
        progress(steps.total, steps.total, "");
    return report;
}

}  // namespace

DamageReport layer_damage(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs,
                          const DamageOptions& options, const Progress& progress, const CancelToken* cancel) {
    return options.float64 ? run<double>(model, data, specs, options.measure, progress, cancel)
                           : run<float>(model, data, specs, options.measure, progress, cancel);
}

}  // namespace quantlens

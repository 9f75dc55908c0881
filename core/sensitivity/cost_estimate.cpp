#include "sensitivity/cost_estimate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include <map>

#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "nn/ops.hpp"
#include "nn/streamed_network.hpp"
#include "quant/quantizer.hpp"
#include "stats/qsur.hpp"
#include "util/memory_budget.hpp"

namespace quantlens {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Multiply-adds of one node and of one sample's forward pass: the matrix products and attention's two.
double node_macs(const nn::Node& node) {
    if (node.kind == nn::OpKind::Dense || node.kind == nn::OpKind::Conv2D) {
        const double kernel = node.parameters.empty() ? 0 : static_cast<double>(node.parameters.front().size);
        return static_cast<double>(node.out.size() / node.out.last()) * kernel;
    }
    if (node.kind == nn::OpKind::Attention) {
        const double tokens = static_cast<double>(node.out.dims[0]);
        return 2 * tokens * tokens * node.head_dim * node.heads;
    }
    return 0;
}
double forward_macs(const nn::Graph& graph) {
    double macs = 0;
    for (const auto& node : graph.nodes)
        macs += node_macs(node);
    return macs;
}

// Values every node keeps per sample: a traced pass holds all of them.
double activation_values(const nn::Graph& graph) {
    double values = 0;
    for (const auto& node : graph.nodes)
        values += static_cast<double>(node.out.size());
    return values;
}

// What a streamed pass (nn/streamed_network.hpp) holds, per sample and in values, by its rules: a
// node's output lives until its last reader has run; each node's weights are held while it runs,
// in T and as read (float32); a measured run keeps a checkpoint wherever at most one earlier
// output is still to be read, and its backward sweep holds one stretch between checkpoints,
// outputs and gradients. `resumed_macs`: the multiply-adds of running each quantized layer's
// twin from its checkpoint to the logits, over all layers; `block_macs`: the same from each
// layer block's first reader (a streamed Hessian-vector product's reach).
struct StreamedPeak {
    double activations = 0, node_weights = 0, largest_tensor = 0, largest_kernel = 0, largest_input = 0,
           logits = 0, checkpoints = 0, segment = 0, resumed_macs = 0, block_macs = 0, largest_block = 0;
};
StreamedPeak streamed_peak(const nn::Graph& graph) {
    const auto count = graph.nodes.size();
    const auto last_reader = nn::last_readers(graph);
    const auto out = [&](std::size_t k) {
        return static_cast<double>(graph.nodes[k].out.size());
    };
    StreamedPeak peak;
    std::vector<std::size_t> cuts;
    for (const auto& cut : nn::resumable_cuts(graph)) {
        cuts.push_back(static_cast<std::size_t>(cut.node));
        if (cut.value >= 0)
            peak.checkpoints += out(static_cast<std::size_t>(cut.value));
    }
    std::vector<bool> held(count, false);
    double live = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const auto& node = graph.nodes[k];
        live += out(k);
        held[k] = true;
        peak.activations = std::max(peak.activations, live);
        double weights = 0;
        for (const auto& slot : node.parameters) {
            weights += static_cast<double>(slot.size);
            peak.largest_tensor = std::max(peak.largest_tensor, static_cast<double>(slot.size));
        }
        peak.node_weights = std::max(peak.node_weights, weights);
        if (const auto* kernel = node.slot("kernel")) {
            peak.largest_kernel = std::max(peak.largest_kernel, static_cast<double>(kernel->size));
            peak.largest_input = std::max(peak.largest_input, static_cast<double>(node.in.size()));
        }
        for (int i : node.inputs)
            if (i >= 0 && i != graph.output &&
                last_reader[static_cast<std::size_t>(i)] == static_cast<int>(k) &&
                held[static_cast<std::size_t>(i)]) {
                live -= out(static_cast<std::size_t>(i));
                held[static_cast<std::size_t>(i)] = false;
            }
        if (last_reader[k] < 0 && static_cast<int>(k) != graph.output) {
            live -= out(k);
            held[k] = false;
        }
    }
    cuts.push_back(count);
    std::vector<double> macs_from(count + 1, 0.0);  // from each cut's node to the end
    for (std::size_t k = count; k-- > 0;)
        macs_from[k] = macs_from[k + 1] + node_macs(graph.nodes[k]);
    for (std::size_t j = 0; j + 1 < cuts.size(); ++j) {
        double values = 0;
        for (std::size_t k = cuts[j]; k < cuts[j + 1]; ++k) {
            values += out(k);
            if (graph.nodes[k].slot("kernel"))
                peak.resumed_macs += macs_from[cuts[j]];
        }
        peak.segment = std::max(peak.segment, values);
    }
    // each layer block's products run from the checkpoint before its first reader
    for (const auto& block : graph.blocks()) {
        const auto first = static_cast<std::size_t>(nn::first_reader(graph, block.offset, block.size));
        std::size_t cut = 0;
        for (std::size_t c : cuts)
            if (c <= first)
                cut = c;
        peak.block_macs += macs_from[cut];
        peak.largest_block = std::max(peak.largest_block, static_cast<double>(block.size));
    }
    peak.logits = out(static_cast<std::size_t>(graph.output));
    return peak;
}

// Forward and backward of the largest Dense at one sample's rows, in T: multiply-adds per second.
template <typename T>
double product_rate(const nn::Graph& graph) {
    const nn::Node* largest = nullptr;
    for (const auto& node : graph.nodes)
        if (node.kind == nn::OpKind::Dense && !node.parameters.empty() &&
            (!largest || node.parameters.front().size > largest->parameters.front().size))
            largest = &node;
    if (!largest)
        return 1e9;
    const Eigen::Index in = largest->in.last(), out = largest->out.last(),
                       rows = std::max<Eigen::Index>(1, largest->out.size() / out);
    nn::Node node = *largest;
    node.parameters.resize(1);
    node.parameters.front().offset = 0;
    std::mt19937 random(1);
    std::normal_distribution<double> normal;
    std::vector<T> theta(static_cast<std::size_t>(in * out)), gradient(theta.size());
    for (auto& v : theta)
        v = static_cast<T>(normal(random));
    nn::Matrix<T> x(1, rows * in), dx = nn::Matrix<T>::Zero(1, rows * in);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = static_cast<T>(normal(random));
    int repeats = 0;
    const auto start = Clock::now();
    do {
        const auto y = nn::dense_forward(node, x, theta.data());
        nn::dense_backward(node, x, y, theta.data(), gradient.data(), &dx);
        ++repeats;
    } while (seconds_since(start) < 0.2 && repeats < 50);
    return 3.0 * static_cast<double>(rows * in * out) * repeats / seconds_since(start);
}

// What measuring the layers costs beside the forward passes: quantizing every kernel with every
// spec (timed on up to 2^20 values of the largest kernel) and the statistics of every layer's
// inputs (QSUR's covariance and eigendecomposition, timed once per input width on random rows).
double per_layer_seconds(const Model& model, const nn::Graph& shapes, const SensitivityRequest& request,
                         Eigen::Index rows) {
    const nn::Node* largest = nullptr;
    double kernel_values = 0;
    std::map<Eigen::Index, int> widths;
    for (const auto& node : shapes.nodes)
        if (const auto* kernel = node.slot("kernel")) {
            kernel_values += static_cast<double>(kernel->size);
            if (node.kind == nn::OpKind::Dense)
                ++widths[node.in.last()];
            if (!largest || kernel->size > largest->slot("kernel")->size)
                largest = &node;
        }
    double seconds = 0;
    if (largest) {
        const auto weights = model.read_weights(model.layer(largest->layer));
        auto matrix = as_matrix(weights.values(), weights.shape);
        matrix.rows = std::min<std::int64_t>(matrix.rows, std::max<std::int64_t>(1, (1 << 20) / matrix.cols));
        matrix.values = matrix.values.first(static_cast<std::size_t>(matrix.rows * matrix.cols));
        for (const auto& spec : request.specs) {
            QuantOptions options;
            options.codes = options.error_histogram = false;
            const auto start = Clock::now();
            try {
                quantize(matrix, spec, options);
            } catch (const Error&) {
                continue;  // a spec that needs the layer's inputs (GPTQ): its rounding is not counted
            }
            seconds += seconds_since(start) / static_cast<double>(matrix.rows * matrix.cols) * kernel_values;
        }
    }
    const Eigen::Index timed_rows = std::min<Eigen::Index>(rows, 4096);
    std::mt19937 random(2);
    std::normal_distribution<float> normal;
    for (const auto& [width, layers] : widths) {
        if (timed_rows < 2 || width > 8192)
            continue;
        std::vector<float> values(static_cast<std::size_t>(timed_rows * width));
        for (auto& v : values)
            v = normal(random);
        QsurOptions options;
        options.rotated = false;
        const auto start = Clock::now();
        qsur(values, timed_rows, width, options);
        seconds +=
            seconds_since(start) * layers * static_cast<double>(rows) / static_cast<double>(timed_rows);
    }
    return seconds;
}

template <typename T>
double real_pass_seconds(const nn::Graph& graph, const LabelledData& data) {
    const nn::Network<T> network(graph);
    const nn::Matrix<T> one = data.x.topRows(1).template cast<T>();
    std::vector<std::int64_t> label;
    if (!data.y.empty())
        label.push_back(data.y.front());
    nn::Gradients<T> gradients;
    // cold, as the run's passes are: each allocates its activations afresh, and large blocks
    // come back from the kernel zeroed page by page
    const auto start = Clock::now();
    network.loss_and_gradient(one, label, gradients);
    return seconds_since(start);
}

std::string duration_text(double seconds) {
    char text[64];
    if (seconds < 60)
        std::snprintf(text, sizeof text, "%.1f s", seconds);
    else if (seconds < 3600)
        std::snprintf(text, sizeof text, "%.1f min", seconds / 60);
    else
        std::snprintf(text, sizeof text, "%.1f h", seconds / 3600);
    return text;
}

std::string bytes_text(std::uint64_t bytes) {
    char text[64];
    std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
    return text;
}

}  // namespace

CostEstimate estimate_sensitivity_cost(const Model& model, const LabelledData& data,
                                       const SensitivityRequest& request, std::uint64_t real_pass_limit) {
    const auto shapes = nn::model_graph(model, data.x.cols(), false);
    CostEstimate estimate;
    estimate.available_bytes = job_memory_budget();
    const double P = static_cast<double>(shapes.parameter_count), N = static_cast<double>(data.x.rows()),
                 A = activation_values(shapes) * N, input = 8.0 * static_cast<double>(data.x.size());
    estimate.parameters = shapes.parameter_count;
    if (real_pass_limit == 0)
        real_pass_limit = estimate.available_bytes / 4 / 24;  // graph, network and gradient at 24 bytes each
    if (shapes.parameter_count <= real_pass_limit) {
        const auto graph = nn::model_graph(model, data.x.cols());
        estimate.pass_seconds_f32 = real_pass_seconds<float>(graph, data);
        estimate.pass_seconds_f64 = real_pass_seconds<double>(graph, data);
        estimate.timed = "a forward and backward pass of one sample, timed";
    } else {
        const double macs = 3 * forward_macs(shapes);
        estimate.pass_seconds_f32 = macs / product_rate<float>(shapes);
        estimate.pass_seconds_f64 = macs / product_rate<double>(shapes);
        estimate.timed = "the largest matrix product timed, scaled by the network's multiply-adds";
    }
    const double f32 = estimate.pass_seconds_f32 * N, f64 = estimate.pass_seconds_f64 * N;
    const auto shape_blocks = shapes.blocks();
    std::size_t blocks = shape_blocks.size(), block_parameters = 0;
    for (const auto& block : shape_blocks)
        block_parameters += block.size;
    const double specs = static_cast<double>(std::max<std::size_t>(request.specs.size(), 1));
    const auto cost = [&](const char* metric, double seconds, double bytes, std::string detail) {
        estimate.metrics.push_back(
            {metric, seconds, static_cast<std::uint64_t>(bytes + input), std::move(detail)});
        estimate.seconds += seconds;
        estimate.peak_bytes = std::max(estimate.peak_bytes, estimate.metrics.back().peak_bytes);
    };
    // Both damage paths stream: live activations, the running node's weights (in T and as read),
    // the largest layer's inputs (float32) and quantization (its weights as read and dequantized,
    // and the quantizer's work: 16 bytes a weight), and the logits with their copies for the
    // loss (two more). Measured adds the checkpoints, one stretch's outputs and gradients, and
    // the logits' gradient and a quantized twin's logits (two more).
    if (request.proxy || request.measured) {
        const double s = request.float64 ? 8 : 4, pass = request.float64 ? f64 : f32;
        const auto peak = streamed_peak(shapes);
        const auto rows = static_cast<Eigen::Index>(data.x.rows()) *
                          (shapes.next_token ? static_cast<Eigen::Index>(data.x.cols()) : 1);
        double bytes = s * N * (peak.activations + 2 * peak.logits) + s * peak.node_weights +
                       4 * peak.largest_tensor + 16 * peak.largest_kernel + 4 * N * peak.largest_input;
        // a pass is a third forward, two thirds backward; the sweep recomputes each stretch once
        double seconds = pass / 3 + per_layer_seconds(model, shapes, request, rows);
        if (request.measured) {
            bytes += s * N * (peak.checkpoints + 2 * peak.segment + 2 * peak.logits);
            const double macs = std::max(forward_macs(shapes), 1.0);
            seconds += pass * (1 + 1.0 / 3) + pass / 3 * specs * peak.resumed_macs / macs;
        }
        cost(request.measured ? "measured" : "proxy", seconds, bytes,
             request.measured
                 ? "streamed: a forward pass with checkpoints, a backward sweep from them, per "
                   "layer and spec the quantization and a pass from its checkpoint"
                 : "streamed: one forward pass, the quantization and each layer's input statistics");
    }
    if (request.hessian) {
        const double vectors = static_cast<double>(request.hessian_options.hutchinson.max_samples);
        // An exact HVP (forward-over-reverse on Duals) took 2.0-2.2 gradients' time on the whole
        // network in bench_engine; streamed, it runs from the block's checkpoint to the loss and
        // back, recomputing each stretch once (4/3 of a gradient's passes).
        constexpr double kGradientsPerProduct = 2.2 * 4 / 3;
        const auto peak = streamed_peak(shapes);
        const double reach = peak.block_macs / std::max(forward_macs(shapes), 1.0);  // blocks' share
        // a joint product runs over the whole network once for every layer's sample
        const bool joint = request.hessian_options.hutchinson.joint;
        double passes = kGradientsPerProduct * vectors * (joint ? 1.0 : reach) + 1.0 / 3;
        if (request.hessian_options.exact)
            passes += kGradientsPerProduct * static_cast<double>(block_parameters) * reach /
                      std::max<double>(static_cast<double>(blocks), 1);
        // float64 checkpoints (8) and their Dual twins (16); one stretch's Dual outputs and
        // gradients (32); the logits, their gradient and copies in Duals (4 × 16); the first
        // forward's live values (8); the block's θ + εv and its gradient in Duals (32 a
        // parameter); the running node's Dual weights and gradient (32) and the tensor as read (4).
        cost("hessian", f64 * passes,
             N * (24 * peak.checkpoints + 32 * peak.segment + 64 * peak.logits + 8 * peak.activations) +
                 32 * peak.largest_block + 32 * peak.node_weights + 4 * peak.largest_tensor,
             joint ? "at most " + std::to_string(request.hessian_options.hutchinson.max_samples) +
                         " joint Hessian-vector products over all " + std::to_string(blocks) +
                         " layers, streamed, in float64"
                   : "at most " + std::to_string(request.hessian_options.hutchinson.max_samples) +
                         " Hessian-vector products for each of " + std::to_string(blocks) +
                         " layers, streamed from the layer's checkpoint, in float64; --hutchinson-joint: " +
                         duration_text(f64 * (kGradientsPerProduct * vectors + 1.0 / 3)));
    }
    if (request.lrp)  // 3.5 passes: the traced forward, the relevance pass, each weighted node's rule
        cost("lrp", f64 * 3.5, 32 * P + 24 * A,
             "a traced forward pass and a relevance pass, in float64 (about 3.5 passes' time)");
    return estimate;
}

std::string to_text(const CostEstimate& estimate) {
    char line[512];
    std::snprintf(line, sizeof line,
                  "  one sample's forward and backward pass: %.3g s in float32, %.3g s in float64\n",
                  estimate.pass_seconds_f32, estimate.pass_seconds_f64);
    std::string text = line;
    for (const auto& m : estimate.metrics) {
        std::snprintf(line, sizeof line, "  %-9s about %-10s peak %s  (%s)\n", m.metric.c_str(),
                      duration_text(m.seconds).c_str(), bytes_text(m.peak_bytes).c_str(), m.detail.c_str());
        text += line;
    }
    std::snprintf(line, sizeof line, "  total     about %-10s peak %s of %s available; %s parameters; %s\n",
                  duration_text(estimate.seconds).c_str(), bytes_text(estimate.peak_bytes).c_str(),
                  bytes_text(estimate.available_bytes).c_str(), std::to_string(estimate.parameters).c_str(),
                  estimate.timed.c_str());
    return text + line;
}

std::string summary(const CostEstimate& estimate) {
    return "estimated about " + duration_text(estimate.seconds) + ", peak " +
           bytes_text(estimate.peak_bytes) + " of " + bytes_text(estimate.available_bytes) + " available";
}

void require_affordable(const CostEstimate& estimate, const std::string& path) {
    if (estimate.peak_bytes <= estimate.available_bytes)
        return;
    std::string heaviest;
    for (const auto& m : estimate.metrics)
        if (m.peak_bytes == estimate.peak_bytes)
            heaviest = m.metric;
    throw Error(path, "model metrics",
                "would need about " + bytes_text(estimate.peak_bytes) + " at their peak (" + heaviest +
                    "), more than the " + bytes_text(estimate.available_bytes) +
                    " available (or QUANTLENS_MEMORY_LIMIT): refused before starting. Fewer samples "
                    "(--samples) or fewer metrics (--metrics) need less:\n" +
                    to_text(estimate));
}

}  // namespace quantlens

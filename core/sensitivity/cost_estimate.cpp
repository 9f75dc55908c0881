#include "sensitivity/cost_estimate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include <map>

#include "nn/hf_graph.hpp"
#include "nn/network.hpp"
#include "nn/ops.hpp"
#include "quant/quantizer.hpp"
#include "stats/qsur.hpp"
#include "util/memory_budget.hpp"

namespace quantlens {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Multiply-adds of one sample's forward pass: the matrix products and attention's two.
double forward_macs(const nn::Graph& graph) {
    double macs = 0;
    for (const auto& node : graph.nodes) {
        if (node.kind == nn::OpKind::Dense || node.kind == nn::OpKind::Conv2D) {
            const double kernel =
                node.parameters.empty() ? 0 : static_cast<double>(node.parameters.front().size);
            macs += static_cast<double>(node.out.size() / node.out.last()) * kernel;
        } else if (node.kind == nn::OpKind::Attention) {
            const double tokens = static_cast<double>(node.out.dims[0]);
            macs += 2 * tokens * tokens * node.head_dim * node.heads;
        }
    }
    return macs;
}

// Values every node keeps per sample: a traced pass holds all of them.
double activation_values(const nn::Graph& graph) {
    double values = 0;
    for (const auto& node : graph.nodes)
        values += static_cast<double>(node.out.size());
    return values;
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
    std::size_t kernels = 0, blocks = shape_blocks.size(), block_parameters = 0;
    for (const auto& node : shapes.nodes)
        kernels += node.slot("kernel") ? 1 : 0;
    for (const auto& block : shape_blocks)
        block_parameters += block.size;
    const double specs = static_cast<double>(std::max<std::size_t>(request.specs.size(), 1));
    const auto cost = [&](const char* metric, double seconds, double bytes, std::string detail) {
        estimate.metrics.push_back(
            {metric, seconds, static_cast<std::uint64_t>(bytes + input), std::move(detail)});
        estimate.seconds += seconds;
        estimate.peak_bytes = std::max(estimate.peak_bytes, estimate.metrics.back().peak_bytes);
    };
    // Each graph holds its weights in float64 (8 bytes a parameter) beside the network's copy.
    if (request.measured || request.proxy) {
        const double passes = request.measured ? 1 + kernels * specs / 3 : 1.0 / 3;
        const double s = request.float64 ? 8 : 4, pass = request.float64 ? f64 : f32;
        const auto rows = static_cast<Eigen::Index>(data.x.rows()) *
                          (shapes.next_token ? static_cast<Eigen::Index>(data.x.cols()) : 1);
        cost(request.measured ? "measured" : "proxy",
             pass * passes + per_layer_seconds(model, shapes, request, rows),
             8 * P + s * P * (request.measured ? 2 : 1) + s * A * (request.measured ? 3 : 1),
             request.measured
                 ? "a forward and backward pass, then per layer and spec a forward pass and "
                   "the quantization, and the statistics of each layer's inputs"
                 : "one forward pass, the quantization and the statistics of each layer's inputs");
    }
    if (request.hessian) {
        const double vectors = static_cast<double>(request.hessian_options.hutchinson.max_samples);
        // An exact HVP (forward-over-reverse on Duals) took 2.0-2.2 gradients' time in bench_engine.
        constexpr double kGradientsPerProduct = 2.2;
        double passes = kGradientsPerProduct * vectors * static_cast<double>(blocks) + 1.0 / 3;
        if (request.hessian_options.exact)
            passes += kGradientsPerProduct * static_cast<double>(block_parameters);
        // the float64 network (16P), its Dual twin (graph 8P, θ 16P), θ+εv, ∇L+εHv and the vectors
        // (48P); every node's output and its gradient in Duals (32A) beside the first pass's (8A)
        cost("hessian", f64 * passes, 88 * P + 40 * A,
             "at most " + std::to_string(request.hessian_options.hutchinson.max_samples) +
                 " Hessian-vector "
                 "products (about two gradients each) for each of " +
                 std::to_string(blocks) + " layers, in float64");
    }
    if (request.lrp)  // 3.5 passes: the traced forward, the relevance pass, each weighted node's rule
        cost("lrp", f64 * 3.5, 32 * P + 24 * A,
             "a traced forward pass and a relevance pass, in float64 (about 3.5 passes' time)");
    return estimate;
}

std::string to_text(const CostEstimate& estimate) {
    char line[256];
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

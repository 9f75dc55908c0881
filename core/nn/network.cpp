#include "nn/network.hpp"

#include "model/llama_names.hpp"

#include <cmath>

#include "nn/ops.hpp"
#include "util/error.hpp"

namespace quantlens::nn {

std::string shape_text(const Shape& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.dims.size(); ++i)
        text += (i ? ", " : "") + std::to_string(shape.dims[i]);
    return text + "]";
}

const char* op_name(OpKind kind) {
    switch (kind) {
        case OpKind::Dense: return "Dense";
        case OpKind::Conv2D: return "Conv2D";
        case OpKind::DepthwiseConv2D: return "DepthwiseConv2D";
        case OpKind::BatchNorm: return "BatchNormalization";
        case OpKind::Activation: return "Activation";
        case OpKind::MaxPool: return "MaxPooling2D";
        case OpKind::AvgPool: return "AveragePooling2D";
        case OpKind::GlobalAvgPool: return "GlobalAveragePooling2D";
        case OpKind::Flatten: return "Flatten";
        case OpKind::Add: return "Add";
        case OpKind::Embedding: return "Embedding";
        case OpKind::PositionEmbedding: return "PositionEmbedding";
        case OpKind::LayerNorm: return "LayerNorm";
        case OpKind::RMSNorm: return "RMSNorm";
        case OpKind::Attention: return "Attention";
        case OpKind::Mul: return "Mul";
        case OpKind::Slice: return "Slice";
    }
    return "?";
}

const char* activation_name(ActivationKind kind) {
    switch (kind) {
        case ActivationKind::Linear: return "linear";
        case ActivationKind::Relu: return "relu";
        case ActivationKind::Gelu: return "gelu";
        case ActivationKind::GeluTanh: return "gelu_new";
        case ActivationKind::Tanh: return "tanh";
        case ActivationKind::Sigmoid: return "sigmoid";
        case ActivationKind::Swish: return "swish";
        case ActivationKind::Softmax: return "softmax";
        case ActivationKind::SoftCap: return "softcap";
    }
    return "?";
}

void require_input_width(const Graph& graph, Eigen::Index values_per_sample) {
    if (values_per_sample != graph.input.size())
        throw Error("", "inputs",
                    std::to_string(values_per_sample) + " values per sample; the network takes " +
                        shape_text(graph.input) + " = " + std::to_string(graph.input.size()));
}

std::vector<ParameterBlock> Graph::blocks() const {
    std::vector<ParameterBlock> result;
    for (const auto& node : nodes) {
        if (node.parameters.empty())
            continue;
        bool shared = false;  // a tied head reads the embedding's slot: one block, the embedding's
        for (const auto& block : result)
            if (block.offset == node.parameters.front().offset)
                shared = true;
        if (shared)
            continue;
        ParameterBlock block{node.layer, node.parameters.front().offset, 0};
        for (const auto& slot : node.parameters)
            block.size += slot.size;
        result.push_back(block);
    }
    return result;
}

const Node& Graph::node_of_layer(const std::string& layer) const {
    for (const auto& node : nodes)
        if (node.layer == layer && !node.parameters.empty())
            return node;
    throw Error("", "layer \"" + layer + "\"", "has no parameters in the engine's network");
}

template <typename T>
Matrix<T> forward_node(const Node& node, const Inputs<T>& inputs, const Matrix<T>& gate, const T* theta) {
    const auto& x = *inputs.front();
    switch (node.kind) {
        case OpKind::Dense: return dense_forward(node, x, theta);
        case OpKind::Conv2D: return conv2d_forward(node, x, theta);
        case OpKind::DepthwiseConv2D: return depthwise_forward(node, x, theta);
        case OpKind::BatchNorm: return batch_norm_forward(node, x, theta);
        case OpKind::Activation: return activation_forward(node, x, gate);
        case OpKind::MaxPool:
        case OpKind::AvgPool:
        case OpKind::GlobalAvgPool: return pool_forward(node, x, gate);
        case OpKind::Flatten: return x;  // channels-last rows are already flat in Keras's order
        case OpKind::Add: {
            Matrix<T> y = x;
            for (std::size_t i = 1; i < inputs.size(); ++i)
                y += *inputs[i];
            return y;
        }
        case OpKind::Mul: return x.cwiseProduct(*inputs[1]);
        case OpKind::Slice: return slice_forward(node, x);
        case OpKind::Embedding: return embedding_forward(node, x, theta);
        case OpKind::PositionEmbedding: return position_forward(node, x, theta);
        case OpKind::LayerNorm:
        case OpKind::RMSNorm: return norm_forward(node, x, theta);
        case OpKind::Attention: return attention_forward(node, inputs);
    }
    return x;
}

template <typename T>
void backward_node(const Node& node, const Inputs<T>& inputs, const Matrix<T>& gate, const Matrix<T>& output,
                   const Matrix<T>& dy, const T* theta, T* gradient, const InputGradients<T>& dx) {
    const auto& x = *inputs.front();
    switch (node.kind) {
        case OpKind::Dense: return dense_backward(node, x, dy, theta, gradient, dx.front());
        case OpKind::Conv2D: return conv2d_backward(node, x, dy, theta, gradient, dx.front());
        case OpKind::DepthwiseConv2D: return depthwise_backward(node, x, dy, theta, gradient, dx.front());
        case OpKind::BatchNorm: return batch_norm_backward(node, x, dy, theta, gradient, dx.front());
        case OpKind::Activation: return activation_backward(node, x, gate, output, dy, dx.front());
        case OpKind::MaxPool:
        case OpKind::AvgPool:
        case OpKind::GlobalAvgPool: return pool_backward(node, x, gate, dy, dx.front());
        case OpKind::Flatten:
        case OpKind::Add:
            for (auto* d : dx)
                if (d)
                    *d += dy;
            return;
        case OpKind::Mul:
            if (dx[0])
                *dx[0] += dy.cwiseProduct(*inputs[1]);
            if (dx[1])
                *dx[1] += dy.cwiseProduct(x);
            return;
        case OpKind::Slice: return slice_backward(node, dy, dx.front());
        case OpKind::Embedding:
            return embedding_backward(node, x, dy, gradient);  // token ids take no gradient
        case OpKind::PositionEmbedding: return position_backward(node, dy, gradient, dx.front());
        case OpKind::LayerNorm:
        case OpKind::RMSNorm: return norm_backward(node, x, dy, theta, gradient, dx.front());
        case OpKind::Attention: return attention_backward(node, inputs, dy, dx);
    }
}

template <typename T>
Matrix<T> softmax_rows(const Matrix<T>& logits) {
    Matrix<T> p = logits.colwise() - logits.rowwise().maxCoeff();
    p = p.array().exp();
    p.array().colwise() /= p.rowwise().sum().array();
    return p;
}

template <typename T>
double cross_entropy(const Matrix<T>& logits, const std::vector<std::int64_t>& labels, Matrix<T>* gradient) {
    const auto n = logits.rows();
    if (static_cast<Eigen::Index>(labels.size()) != n)
        throw Error("", "labels",
                    std::to_string(labels.size()) + " labels for " + std::to_string(n) + " samples");
    std::size_t counted = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] < -1 || labels[i] >= logits.cols())
            throw Error("", "labels[" + std::to_string(i) + "]",
                        "class " + std::to_string(labels[i]) + " outside the network's " +
                            std::to_string(logits.cols()) + " outputs");
        if (labels[i] >= 0)
            ++counted;
    }
    double total = 0;
    for (Eigen::Index r = 0; r < n; ++r) {
        const auto label = labels[static_cast<std::size_t>(r)];
        if (label < 0)
            continue;  // a position with no target (a sequence's last token)
        const double top = static_cast<double>(logits.row(r).maxCoeff());
        const double sum = (logits.row(r).template cast<double>().array() - top).exp().sum();
        total += top + std::log(sum) - static_cast<double>(logits(r, label));
    }
    if (gradient) {
        *gradient = softmax_rows<T>(logits);
        for (Eigen::Index r = 0; r < n; ++r) {
            const auto label = labels[static_cast<std::size_t>(r)];
            if (label < 0)
                gradient->row(r).setZero();
            else
                (*gradient)(r, label) -= T(1);
        }
        if (counted)
            *gradient /= T(counted);
    }
    return counted ? total / static_cast<double>(counted) : 0.0;
}

template <typename T>
Network<T>::Network(Graph graph) : graph_(std::move(graph)) {
    if (graph_.nodes.empty() || graph_.output < 0)
        throw Error("", "network", "has no layers");
    theta_ = Eigen::Map<const Eigen::VectorXd>(graph_.parameters.data(),
                                               static_cast<Eigen::Index>(graph_.parameters.size()))
                 .cast<T>();
}

template <typename T>
void Network<T>::set_parameters(const Vector<T>& theta) {
    if (theta.size() != theta_.size())
        throw Error(
            "", "parameters",
            std::to_string(theta.size()) + " values for " + std::to_string(theta_.size()) + " parameters");
    theta_ = theta;
}

std::vector<float> graph_order(const ParameterSlot& slot, std::vector<float> values) {
    if (slot.rotary_heads <= 0 || slot.shape.empty())
        return values;
    return llama_unpermute_rows(values, slot.shape[0], slot.shape.size() == 2 ? slot.shape[1] : 1,
                                slot.rotary_heads);
}

template <typename T>
void Network<T>::set_slot(const ParameterSlot& slot, const std::vector<float>& values) {
    if (values.size() != slot.size)
        throw Error("", slot.tensor,
                    std::to_string(values.size()) + " values for a tensor of " + std::to_string(slot.size));
    const auto ordered = graph_order(slot, values);  // the file's layout, as every caller has it
    for (std::size_t i = 0; i < ordered.size(); ++i)
        theta_[static_cast<Eigen::Index>(slot.offset + i)] = static_cast<T>(ordered[i]);
}

template <typename T>
ForwardTrace<T> Network<T>::run(const Matrix<T>& x, const ForwardTrace<T>* pattern) const {
    require_input_width(graph_, x.cols());
    ForwardTrace<T> trace;
    trace.input = x;
    trace.outputs.reserve(graph_.nodes.size());
    Inputs<T> inputs;
    for (const auto& node : graph_.nodes) {
        inputs.clear();
        for (int i : node.inputs)
            inputs.push_back(&trace.output_of(i));
        const auto& gate = pattern ? pattern->output_of(node.inputs.front()) : *inputs.front();
        trace.outputs.push_back(forward_node(node, inputs, gate, theta_.data()));
    }
    return trace;
}

template <typename T>
Matrix<T> Network<T>::forward(const Matrix<T>& x) const {
    auto trace = run(x);
    return std::move(trace.outputs[static_cast<std::size_t>(graph_.output)]);
}

template <typename T>
double Network<T>::loss(const Matrix<T>& x, const std::vector<std::int64_t>& labels) const {
    return objective(forward(x), x, labels);
}

template <typename T>
Matrix<T> position_logits(const Graph& graph, const Matrix<T>& logits) {
    if (!graph.next_token)
        return logits;
    return Eigen::Map<const Matrix<T>>(logits.data(), logits.size() / graph.vocabulary, graph.vocabulary);
}

template <typename T>
std::vector<std::int64_t> targets(const Graph& graph, const Matrix<T>& x,
                                  const std::vector<std::int64_t>& labels) {
    if (!graph.next_token)
        return labels;
    std::vector<std::int64_t> next(static_cast<std::size_t>(x.size()),
                                   -1);  // the last token of each sample predicts nothing
    for (Eigen::Index n = 0; n < x.rows(); ++n)
        for (Eigen::Index t = 0; t + 1 < x.cols(); ++t)
            next[static_cast<std::size_t>(n * x.cols() + t)] =
                static_cast<std::int64_t>(static_cast<double>(x(n, t + 1)));
    return next;
}

template <typename T>
double objective(const Graph& graph, const Matrix<T>& logits, const Matrix<T>& x,
                 const std::vector<std::int64_t>& labels, Matrix<T>* gradient) {
    if (!graph.next_token)
        return cross_entropy<T>(logits, labels, gradient);
    Matrix<T> per_position;
    const double value = cross_entropy<T>(position_logits(graph, logits), targets(graph, x, labels),
                                          gradient ? &per_position : nullptr);
    if (gradient)
        *gradient = Eigen::Map<const Matrix<T>>(per_position.data(), logits.rows(), logits.cols());
    return value;
}

template <typename T>
Matrix<T> Network<T>::position_logits(const Matrix<T>& logits) const {
    return nn::position_logits(graph_, logits);
}

template <typename T>
std::vector<std::int64_t> Network<T>::targets(const Matrix<T>& x,
                                              const std::vector<std::int64_t>& labels) const {
    return nn::targets(graph_, x, labels);
}

template <typename T>
double Network<T>::objective(const Matrix<T>& logits, const Matrix<T>& x,
                             const std::vector<std::int64_t>& labels, Matrix<T>* gradient) const {
    return nn::objective(graph_, logits, x, labels, gradient);
}

template <typename T>
void Network<T>::backward(const ForwardTrace<T>& trace, const Matrix<T>& logits_gradient,
                          Gradients<T>& gradients, bool node_gradients,
                          const ForwardTrace<T>* pattern) const {
    const auto count = graph_.nodes.size();
    std::vector<Matrix<T>> d(count);
    d[static_cast<std::size_t>(graph_.output)] = logits_gradient;
    gradients.parameters = Vector<T>::Zero(theta_.size());
    gradients.input = Matrix<T>::Zero(trace.input.rows(), trace.input.cols());
    Inputs<T> inputs;
    InputGradients<T> input_gradients;
    for (std::size_t k = count; k-- > 0;) {
        if (d[k].size() == 0)
            continue;  // nothing downstream of this node reaches the loss
        const auto& node = graph_.nodes[k];
        inputs.clear();
        input_gradients.clear();
        for (int i : node.inputs) {
            inputs.push_back(&trace.output_of(i));
            if (i < 0) {
                input_gradients.push_back(&gradients.input);
                continue;
            }
            auto& di = d[static_cast<std::size_t>(i)];
            if (di.size() == 0)
                di = Matrix<T>::Zero(trace.outputs[static_cast<std::size_t>(i)].rows(),
                                     trace.outputs[static_cast<std::size_t>(i)].cols());
            input_gradients.push_back(&di);
        }
        const auto& gate = (pattern ? *pattern : trace).output_of(node.inputs.front());
        backward_node(node, inputs, gate, trace.outputs[k], d[k], theta_.data(), gradients.parameters.data(),
                      input_gradients);
    }
    if (node_gradients)
        gradients.outputs = std::move(d);
}

template <typename T>
double Network<T>::loss_and_gradient(const Matrix<T>& x, const std::vector<std::int64_t>& labels,
                                     Gradients<T>& gradients, bool node_gradients, ForwardTrace<T>* kept,
                                     const ForwardTrace<T>* pattern) const {
    auto trace = run(x, pattern);
    Matrix<T> dlogits;
    const double value =
        objective(trace.outputs[static_cast<std::size_t>(graph_.output)], x, labels, &dlogits);
    backward(trace, dlogits, gradients, node_gradients, pattern);
    if (kept)
        *kept = std::move(trace);
    return value;
}

HessianVectorProducts::HessianVectorProducts(const Network<double>& network, const Matrix<double>& x,
                                             const std::vector<std::int64_t>& labels)
    : network_(network.graph()),
      x_(x.cast<Dual>()),
      labels_(labels),
      theta_(network.parameters().cast<Dual>()) {}

Eigen::VectorXd HessianVectorProducts::operator()(const Eigen::VectorXd& v) {
    if (v.size() != theta_.size())
        throw Error(
            "", "Hessian-vector product",
            std::to_string(v.size()) + " values for " + std::to_string(theta_.size()) + " parameters");
    dual_plane(theta_, 1) = v;
    network_.set_parameters(theta_);
    network_.loss_and_gradient(x_, labels_, gradients_);
    return dual_plane(gradients_.parameters, 1);
}

Eigen::VectorXd hessian_vector(const Network<double>& network, const Matrix<double>& x,
                               const std::vector<std::int64_t>& labels, const Eigen::VectorXd& v) {
    return HessianVectorProducts(network, x, labels)(v);
}

template class Network<float>;
template class Network<double>;
template class Network<Dual>;
template Matrix<float> forward_node<float>(const Node&, const Inputs<float>&, const Matrix<float>&,
                                           const float*);
template Matrix<Dual> forward_node<Dual>(const Node&, const Inputs<Dual>&, const Matrix<Dual>&, const Dual*);
template Matrix<double> forward_node<double>(const Node&, const Inputs<double>&, const Matrix<double>&,
                                             const double*);
template void backward_node<float>(const Node&, const Inputs<float>&, const Matrix<float>&,
                                   const Matrix<float>&, const Matrix<float>&, const float*, float*,
                                   const InputGradients<float>&);
template void backward_node<Dual>(const Node&, const Inputs<Dual>&, const Matrix<Dual>&, const Matrix<Dual>&,
                                  const Matrix<Dual>&, const Dual*, Dual*, const InputGradients<Dual>&);
template void backward_node<double>(const Node&, const Inputs<double>&, const Matrix<double>&,
                                    const Matrix<double>&, const Matrix<double>&, const double*, double*,
                                    const InputGradients<double>&);
template double cross_entropy<float>(const Matrix<float>&, const std::vector<std::int64_t>&, Matrix<float>*);
template double cross_entropy<double>(const Matrix<double>&, const std::vector<std::int64_t>&,
                                      Matrix<double>*);
template Matrix<float> softmax_rows<float>(const Matrix<float>&);
template Matrix<float> position_logits<float>(const Graph&, const Matrix<float>&);
template Matrix<double> position_logits<double>(const Graph&, const Matrix<double>&);
template std::vector<std::int64_t> targets<float>(const Graph&, const Matrix<float>&,
                                                  const std::vector<std::int64_t>&);
template std::vector<std::int64_t> targets<double>(const Graph&, const Matrix<double>&,
                                                   const std::vector<std::int64_t>&);
template double objective<float>(const Graph&, const Matrix<float>&, const Matrix<float>&,
                                 const std::vector<std::int64_t>&, Matrix<float>*);
template double objective<Dual>(const Graph&, const Matrix<Dual>&, const Matrix<Dual>&,
                                const std::vector<std::int64_t>&, Matrix<Dual>*);
template double objective<double>(const Graph&, const Matrix<double>&, const Matrix<double>&,
                                  const std::vector<std::int64_t>&, Matrix<double>*);
template Matrix<double> softmax_rows<double>(const Matrix<double>&);

}  // namespace quantlens::nn

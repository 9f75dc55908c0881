#include "sensitivity/lrp.hpp"

#include <algorithm>
#include <cmath>

#include "nn/hf_graph.hpp"
#include "nn/ops.hpp"
#include "util/error.hpp"

namespace quantlens {

using nn::Matrix;
using nn::Node;
using nn::OpKind;

const char* lrp_rule_name(LrpRule rule) {
    switch (rule) {
        case LrpRule::Epsilon: return "epsilon";
        case LrpRule::Gamma: return "gamma";
        case LrpRule::ZPlus: return "zplus";
    }
    return "?";
}

LrpRule lrp_rule_from_name(const std::string& name) {
    if (name == "epsilon")
        return LrpRule::Epsilon;
    if (name == "gamma")
        return LrpRule::Gamma;
    if (name == "zplus")
        return LrpRule::ZPlus;
    throw Error("", "LRP rule \"" + name + "\"", "expected epsilon, gamma or zplus");
}

namespace {

bool is_weighted(const Node& node) {
    return node.slot("kernel") != nullptr;
}

// z + ε·sign(z), sign(0) = +1 (the stabiliser keeps a zero pre-activation from dividing by zero).
Matrix<double> stabilised(const Matrix<double>& z, double epsilon) {
    return (z.array() + epsilon * (z.array() >= 0).select(Eigen::ArrayXXd::Ones(z.rows(), z.cols()), -1.0))
        .matrix();
}

struct LinearStep {
    Eigen::VectorXd
        theta;  // the network's parameters with this layer's kernel replaced by W' (bias slot zeroed)
    std::vector<double> bias;  // b', per output channel
};

// W' and b' of a weighted node under the rule, with a following BatchNorm (y = x·a + b) folded in.
LinearStep linear_step(const Node& node, const Node* batch_norm, const Eigen::VectorXd& theta,
                       const LrpOptions& options) {
    LinearStep step{theta, {}};
    const auto& kernel = *node.slot("kernel");
    const auto out = static_cast<std::size_t>(node.out.last());
    std::vector<double> a(out, 1.0), b(out, 0.0);
    if (batch_norm) {
        a = nn::batch_norm_factor(*batch_norm, theta.data());
        b = nn::batch_norm_offset(*batch_norm, theta.data());
    }
    // Every Keras kernel layout has the output channel last (depthwise: (in, multiplier) flattened).
    for (std::size_t i = 0; i < kernel.size; ++i) {
        const auto at = static_cast<Eigen::Index>(kernel.offset + i);
        const double w = theta[at] * a[i % out];
        step.theta[at] = options.rule == LrpRule::Gamma   ? w + options.gamma * std::max(w, 0.0)
                         : options.rule == LrpRule::ZPlus ? std::max(w, 0.0)
                                                          : w;
    }
    step.bias.assign(out, 0.0);
    const auto* bias = node.slot("bias");
    for (std::size_t c = 0; c < out; ++c) {
        const double bc = (bias ? theta[static_cast<Eigen::Index>(bias->offset + c)] : 0.0) * a[c] + b[c];
        step.bias[c] = options.rule == LrpRule::Gamma   ? bc + options.gamma * std::max(bc, 0.0)
                       : options.rule == LrpRule::ZPlus ? 0.0
                                                        : bc;
    }
    if (bias)
        step.theta.segment(static_cast<Eigen::Index>(bias->offset), static_cast<Eigen::Index>(bias->size))
            .setZero();
    return step;
}

}  // namespace

LrpResult relevance(const nn::Network<double>& network, const Matrix<double>& x,
                    const std::vector<std::int64_t>& labels, const LrpOptions& options,
                    const CancelToken* cancel) {
    const auto& graph = network.graph();
    const auto count = graph.nodes.size();
    const auto trace = network.run(x);
    const auto& logits = trace.outputs[static_cast<std::size_t>(graph.output)];
    if (!graph.next_token && static_cast<Eigen::Index>(labels.size()) != x.rows())
        throw Error("", "labels",
                    std::to_string(labels.size()) + " labels for " + std::to_string(x.rows()) + " samples");
    LrpResult result;
    std::vector<Matrix<double>> r(count);
    // One prediction per row of position_logits (a language model's every position but the last).
    const auto predictions = network.position_logits(logits);
    const auto targets = network.targets(x, labels);
    Matrix<double> start_rows = Matrix<double>::Zero(predictions.rows(), predictions.cols());
    for (Eigen::Index i = 0; i < predictions.rows(); ++i) {
        Eigen::Index target = targets[static_cast<std::size_t>(i)];
        if (target < 0)
            continue;
        if (options.target == LrpTarget::Predicted)
            predictions.row(i).maxCoeff(&target);
        if (target >= predictions.cols())
            throw Error("", "labels[" + std::to_string(i) + "]", "class outside the network's outputs");
        start_rows(i, target) = predictions(i, target);
        result.output_relevance += predictions(i, target);
    }
    r[static_cast<std::size_t>(graph.output)] =
        Eigen::Map<const Matrix<double>>(start_rows.data(), logits.rows(), logits.cols());
    // A BatchNorm whose input is a weighted node read by nothing else is folded into that node.
    std::vector<int> consumers(count, 0);
    for (const auto& node : graph.nodes)
        for (int i : node.inputs)
            if (i >= 0)
                ++consumers[static_cast<std::size_t>(i)];
    std::vector<const Node*> folded_bn(count, nullptr);
    for (const auto& node : graph.nodes)
        if (node.kind == OpKind::BatchNorm && node.inputs.front() >= 0) {
            const auto producer = static_cast<std::size_t>(node.inputs.front());
            if (is_weighted(graph.nodes[producer]) && consumers[producer] == 1)
                folded_bn[producer] = &node;
        }
    result.input_relevance = Matrix<double>::Zero(x.rows(), x.cols());
    Eigen::VectorXd scratch = Eigen::VectorXd::Zero(network.parameters().size());
    for (std::size_t k = count; k-- > 0;) {
        if (r[k].size() == 0)
            continue;
        if (cancel)
            cancel->throw_if_cancelled();
        const auto& node = graph.nodes[k];
        nn::Inputs<double> inputs;
        for (int i : node.inputs)
            inputs.push_back(&trace.output_of(i));
        std::vector<Matrix<double>> passed(node.inputs.size());
        for (std::size_t i = 0; i < passed.size(); ++i)
            passed[i] = Matrix<double>::Zero(inputs[i]->rows(), inputs[i]->cols());
        nn::InputGradients<double> into;
        for (auto& p : passed)
            into.push_back(&p);
        const bool folded_away = node.kind == OpKind::BatchNorm && node.inputs.front() >= 0 &&
                                 folded_bn[static_cast<std::size_t>(node.inputs.front())] == &node;
        if (node.kind == OpKind::Activation || node.kind == OpKind::Flatten || folded_away) {
            passed.front() = r[k];
        } else if (node.kind ==
                   OpKind::Mul) {  // a gate·value product: half to each factor (AttnLRP's uniform rule)
            passed[0] = passed[1] = r[k] / 2;
        } else if (node.kind ==
                   OpKind::Embedding) {  // a token's relevance: the sum over its embedding's features
            const Eigen::Index d = node.out.last();
            for (Eigen::Index n = 0; n < r[k].rows(); ++n)
                for (Eigen::Index t = 0; t < x.cols(); ++t)
                    passed.front()(n, t) = r[k].row(n).segment(t * d, d).sum();
        } else if (node.kind == OpKind::LayerNorm || node.kind == OpKind::RMSNorm ||
                   node.kind == OpKind::Attention) {
            const Matrix<double> s =
                (r[k].array() / stabilised(trace.outputs[k], options.epsilon).array()).matrix();
            if (node.kind == OpKind::Attention)
                nn::attention_value_relevance_vjp(node, inputs, s, into);
            else
                passed.front() =
                    nn::norm_relevance_vjp(node, *inputs.front(), s, network.parameters().data());
            for (std::size_t i = 0; i < passed.size(); ++i)
                passed[i].array() *= inputs[i]->array();
        } else if (node.kind == OpKind::MaxPool ||
                   node.kind == OpKind::Slice) {  // relevance goes where the values came from
            nn::backward_node(node, inputs, *inputs.front(), trace.outputs[k], r[k],
                              network.parameters().data(), scratch.data(), into);
        } else {
            // only a weighted node's rule changes its parameters: the others read the network's
            // own (a copy per node was most of the pass on large models)
            Eigen::VectorXd stepped;
            const double* theta = network.parameters().data();
            Matrix<double> z = trace.outputs[k];
            if (is_weighted(node)) {
                auto step = linear_step(node, folded_bn[k], network.parameters(), options);
                stepped = std::move(step.theta);
                theta = stepped.data();
                z = nn::forward_node(node, inputs, *inputs.front(), theta);
                const auto channels = node.out.last();
                Eigen::Map<Matrix<double>> per_channel(z.data(), z.size() / channels, channels);
                per_channel.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(step.bias.data(), channels);
            }
            const Matrix<double> s = (r[k].array() / stabilised(z, options.epsilon).array()).matrix();
            nn::backward_node(node, inputs, *inputs.front(), trace.outputs[k], s, theta, scratch.data(),
                              into);
            for (std::size_t i = 0; i < passed.size(); ++i)
                passed[i].array() *= inputs[i]->array();
        }
        NodeRelevance record;
        record.node = node.name;
        record.layer = node.layer;
        record.weighted = is_weighted(node);
        record.relevance_out = r[k].sum();
        for (std::size_t i = 0; i < passed.size(); ++i) {
            record.relevance_in += passed[i].sum();
            record.absolute_in += passed[i].cwiseAbs().sum();
            const int from = node.inputs[i];
            auto& target = from < 0 ? result.input_relevance : r[static_cast<std::size_t>(from)];
            if (target.size() == 0)
                target = std::move(passed[i]);
            else
                target += passed[i];
        }
        record.conservation_error = std::fabs(record.relevance_in - record.relevance_out) /
                                    std::max(std::fabs(record.relevance_out), 1e-300);
        result.nodes.push_back(record);
    }
    std::reverse(result.nodes.begin(), result.nodes.end());
    double total = 0;
    for (const auto& record : result.nodes)
        if (record.weighted)
            total += record.absolute_in;
    for (const auto& record : result.nodes)
        if (record.weighted)
            result.layers.push_back(
                {record.layer, total > 0 ? record.absolute_in / total : 0.0, record.conservation_error});
    result.conservation_error = std::fabs(result.input_relevance.sum() - result.output_relevance) /
                                std::max(std::fabs(result.output_relevance), 1e-300);
    return result;
}

LrpResult lrp_sensitivity(const Model& model, const LabelledData& data, const LrpOptions& options,
                          const CancelToken* cancel) {
    const nn::Network<double> network(nn::model_graph(model, data.x.cols()));
    check_fits(data, network.graph(), model.file().path());
    return relevance(network, data.x, data.y, options, cancel);
}

}  // namespace quantlens

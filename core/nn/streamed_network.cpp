#include "nn/streamed_network.hpp"

#include "util/error.hpp"

namespace quantlens::nn {

std::vector<int> last_readers(const Graph& graph) {
    std::vector<int> last(graph.nodes.size(), -1);
    for (std::size_t k = 0; k < graph.nodes.size(); ++k)
        for (int i : graph.nodes[k].inputs)
            if (i >= 0)
                last[static_cast<std::size_t>(i)] = static_cast<int>(k);
    return last;
}

std::vector<Cut> resumable_cuts(const Graph& graph) {
    const auto last = last_readers(graph);
    std::vector<Cut> cuts;
    for (std::size_t k = 0; k < graph.nodes.size(); ++k) {
        int live = 0, value = -1;
        for (std::size_t i = 0; i < k; ++i)
            if (last[i] >= static_cast<int>(k)) {
                ++live;
                value = static_cast<int>(i);
            }
        if (live <= 1)
            cuts.push_back({static_cast<int>(k), value});
    }
    return cuts;
}

int first_reader(const Graph& graph, std::size_t offset, std::size_t size) {
    for (std::size_t k = 0; k < graph.nodes.size(); ++k)
        for (const auto& slot : graph.nodes[k].parameters)
            if (slot.offset >= offset && slot.offset < offset + size)
                return static_cast<int>(k);
    return static_cast<int>(graph.nodes.size());
}

template <typename T>
StreamedNetwork<T>::StreamedNetwork(const Model& model, const Graph& graph)
    : model_(model), graph_(graph), last_reader_(last_readers(graph)), cut_value_(graph.nodes.size(), -2) {
    if (graph_.nodes.empty() || graph_.output < 0)
        throw Error(model.file().path(), "network", "has no layers");
    if (!graph_.parameters.empty() && graph_.parameters.size() != graph_.parameter_count &&
        graph_.parameter_count != 0)
        throw Error(model.file().path(), "network", "holds some of its parameters' values but not all");
    for (const auto& cut : resumable_cuts(graph_))
        cut_value_[static_cast<std::size_t>(cut.node)] = cut.value;
}

template <typename T>
NodeWeights<T> StreamedNetwork<T>::weights(const Node& node, const ParameterHooks<T>* hooks) const {
    NodeWeights<T> result{node, {}};
    std::size_t total = 0;
    for (const auto& slot : node.parameters)
        total += slot.size;
    result.values.resize(static_cast<Eigen::Index>(total));
    std::size_t at = 0;
    for (auto& slot : result.node.parameters) {
        auto into =
            result.values.segment(static_cast<Eigen::Index>(at), static_cast<Eigen::Index>(slot.size));
        if (!graph_.parameters.empty()) {
            into = Eigen::Map<const Eigen::VectorXd>(graph_.parameters.data() + slot.offset,
                                                     static_cast<Eigen::Index>(slot.size))
                       .cast<T>();
        } else {
            model_.file().read_f32_into(model_.file().tensor(slot.tensor), scratch_);
            if (scratch_.size() != slot.size)
                throw Error(model_.file().path(), slot.tensor,
                            std::to_string(scratch_.size()) + " values where the network's slot has " +
                                std::to_string(slot.size));
            if (slot.rotary_heads > 0)
                scratch_ = graph_order(slot, std::move(scratch_));
            into = Eigen::Map<const Eigen::VectorXf>(scratch_.data(), static_cast<Eigen::Index>(slot.size))
                       .template cast<T>();
        }
        if (hooks && hooks->adjust)
            hooks->adjust(slot, into);  // the slot as the graph has it, before rebasing
        slot.offset = at;
        at += slot.size;
    }
    return result;
}

template <typename T>
Matrix<T> StreamedNetwork<T>::forward(const Matrix<T>& x, const Visit& visit, const CancelToken* cancel,
                                      std::vector<Checkpoint<T>>* checkpoints) const {
    require_input_width(graph_, x.cols());
    if (checkpoints)
        checkpoints->clear();
    return run(x, Checkpoint<T>{}, visit, cancel, checkpoints, nullptr);
}

template <typename T>
Matrix<T> StreamedNetwork<T>::resume(const Matrix<T>& x, const Checkpoint<T>& from,
                                     const ParameterHooks<T>& hooks, const Visit& visit,
                                     const CancelToken* cancel,
                                     std::vector<Checkpoint<T>>* checkpoints) const {
    if (checkpoints)
        checkpoints->clear();
    return run(x, from, visit, cancel, checkpoints, &hooks);
}

template <typename T>
Matrix<T> StreamedNetwork<T>::run(const Matrix<T>& x, const Checkpoint<T>& from, const Visit& visit,
                                  const CancelToken* cancel, std::vector<Checkpoint<T>>* checkpoints,
                                  const ParameterHooks<T>* hooks) const {
    std::vector<Matrix<T>> outputs(graph_.nodes.size());
    if (from.value >= 0)
        outputs[static_cast<std::size_t>(from.value)] = from.output;
    Inputs<T> inputs;
    for (auto k = static_cast<std::size_t>(from.node); k < graph_.nodes.size(); ++k) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (const int value = cut_value_[k]; checkpoints && value > -2)
            checkpoints->push_back({static_cast<int>(k), value,
                                    value < 0 ? Matrix<T>() : outputs[static_cast<std::size_t>(value)]});
        const auto& node = graph_.nodes[k];
        inputs.clear();
        for (int i : node.inputs)
            inputs.push_back(i < 0 ? &x : &outputs[static_cast<std::size_t>(i)]);
        {
            const auto w = weights(node, hooks);
            outputs[k] = forward_node(w.node, inputs, *inputs.front(), w.values.data());
        }
        if (visit)
            visit(static_cast<int>(k), inputs, outputs[k]);
        for (int i : node.inputs)  // inputs no later node reads
            if (i >= 0 && i != graph_.output &&
                last_reader_[static_cast<std::size_t>(i)] == static_cast<int>(k) &&
                outputs[static_cast<std::size_t>(i)].size())
                outputs[static_cast<std::size_t>(i)] = Matrix<T>();
        if (last_reader_[k] < 0 && static_cast<int>(k) != graph_.output)
            outputs[k] = Matrix<T>();
    }
    return std::move(outputs[static_cast<std::size_t>(graph_.output)]);
}

template <typename T>
Segment<T> StreamedNetwork<T>::backward(const Matrix<T>& x, const Checkpoint<T>& from, int end, int end_value,
                                        Matrix<T> gradient, const ParameterHooks<T>& hooks) const {
    const auto count = graph_.nodes.size();
    Segment<T> segment{from.node, end, std::vector<Matrix<T>>(count), std::vector<Matrix<T>>(count)};
    auto& outputs = segment.outputs;
    if (from.value >= 0)
        outputs[static_cast<std::size_t>(from.value)] = from.output;
    Inputs<T> inputs;
    for (int k = from.node; k < end; ++k) {
        const auto& node = graph_.nodes[static_cast<std::size_t>(k)];
        inputs.clear();
        for (int i : node.inputs)
            inputs.push_back(&segment.output_of(i, x));
        const auto w = weights(node, &hooks);
        outputs[static_cast<std::size_t>(k)] = forward_node(w.node, inputs, *inputs.front(), w.values.data());
    }
    auto& d = segment.gradients;
    d[static_cast<std::size_t>(end_value)] = std::move(gradient);
    Matrix<T> input_gradient;  // ∂L/∂x, which nothing here needs but the nodes reading x write
    InputGradients<T> input_gradients;
    for (int k = end; k-- > from.node;) {
        const auto kk = static_cast<std::size_t>(k);
        if (d[kk].size() == 0)
            continue;  // nothing downstream of this node reaches the loss
        const auto& node = graph_.nodes[kk];
        inputs.clear();
        input_gradients.clear();
        for (int i : node.inputs) {
            inputs.push_back(&segment.output_of(i, x));
            if (i < 0) {
                if (input_gradient.size() == 0)
                    input_gradient = Matrix<T>::Zero(x.rows(), x.cols());
                input_gradients.push_back(&input_gradient);
                continue;
            }
            auto& di = d[static_cast<std::size_t>(i)];
            if (di.size() == 0)
                di = Matrix<T>::Zero(outputs[static_cast<std::size_t>(i)].rows(),
                                     outputs[static_cast<std::size_t>(i)].cols());
            input_gradients.push_back(&di);
        }
        const auto w = weights(node, &hooks);
        Vector<T> parameter_gradient = Vector<T>::Zero(w.values.size());
        backward_node(w.node, inputs, *inputs.front(), outputs[kk], d[kk], w.values.data(),
                      parameter_gradient.data(), input_gradients);
        if (hooks.collect)
            for (std::size_t i = 0; i < node.parameters.size(); ++i)
                hooks.collect(node.parameters[i], parameter_gradient.segment(
                                                      static_cast<Eigen::Index>(w.node.parameters[i].offset),
                                                      static_cast<Eigen::Index>(node.parameters[i].size)));
    }
    return segment;
}

template class StreamedNetwork<float>;
template class StreamedNetwork<double>;
template class StreamedNetwork<Dual>;

}  // namespace quantlens::nn

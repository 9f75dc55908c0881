#pragma once
// A Graph run without a copy of its model in memory: each node's parameters are read from the
// model file when the node runs (a memory-mapped file's pages are released after the read),
// converted to T in a buffer of that node's own, and dropped once it has run; each node's output
// is dropped once its last reader has run. Its peak memory is the live activations and one
// node's weights, whatever the size of the model, where Network<T> holds every parameter in
// float64 (the Graph's) and in T, and every node's output. The values are Network<T>'s to the
// bit: the same node functions on the same values in the same order (tested).
#include <functional>
#include <vector>

#include "model/model.hpp"
#include "nn/network.hpp"
#include "nn/ops.hpp"
#include "util/progress.hpp"

namespace quantlens::nn {

// A node with its parameters in a buffer of its own: `node`'s slots are offsets into `values`.
template <typename T>
struct NodeWeights {
    Node node;
    Vector<T> values;
};

// What a pass does with parameters beyond reading them (either may be empty).
template <typename T>
struct ParameterHooks {
    // Each slot's values as a node reads them, in graph order, for every reader of a tied slot:
    // a quantized layer's twin replaces them, a Hessian-vector product sets their tangents.
    std::function<void(const ParameterSlot& slot, Eigen::Ref<Vector<T>> values)> adjust;
    // From backward: ∂L/∂(a slot's values) through one node reading it (a tied slot's two
    // readers give two, which sum).
    std::function<void(const ParameterSlot& slot, const Eigen::Ref<const Vector<T>>& gradient)> collect;
};

// Where a pass can resume: before node `node`, at most one earlier node's output (`value`'s;
// −1: none) is still to be read. In a transformer, the residual stream between sublayers.
template <typename T>
struct Checkpoint {
    int node = 0, value = -1;
    Matrix<T> output;  // value's output
};

// A stretch of the pass between two checkpoints, recomputed with every output kept and
// backpropagated. Indexed by node; only the segment's nodes (and the checkpoint's value) are set.
template <typename T>
struct Segment {
    int first = 0, end = 0;
    std::vector<Matrix<T>> outputs;
    std::vector<Matrix<T>> gradients;  // ∂L/∂(each output); empty where nothing reaches the loss
    const Matrix<T>& output_of(int node, const Matrix<T>& x) const {
        return node < 0 ? x : outputs[static_cast<std::size_t>(node)];
    }
};

// Per node, the last node reading its output (−1: none): when a streamed pass may drop it.
std::vector<int> last_readers(const Graph& graph);
// Where a pass can resume, from the graph alone: every node before which at most one earlier
// output is still to be read, and that output's node (−1: none). The first node always is one.
struct Cut {
    int node = 0, value = -1;
};
std::vector<Cut> resumable_cuts(const Graph& graph);
// The first node reading a parameter in [offset, offset + size) (nodes.size(): none): a pass
// changing those parameters resumes from the last cut at or before it.
int first_reader(const Graph& graph, std::size_t offset, std::size_t size);

template <typename T>
class StreamedNetwork {
public:
    // `graph`: with its values (a Keras model's, small enough to read whole) or its shapes alone
    // (model_graph's with_values = false), the slots then read from `model`'s file. Both are
    // referenced and must outlive this object.
    StreamedNetwork(const Model& model, const Graph& graph);

    const Graph& graph() const { return graph_; }
    // Sees each node once it has run, with its inputs and output (both freed soon after).
    using Visit = std::function<void(int node, const Inputs<T>& inputs, const Matrix<T>& output)>;
    // The logits of x, as Network<T>::forward gives them; cancel is checked before each node.
    // `checkpoints` receives one at every node where a pass can resume (the first node's included).
    Matrix<T> forward(const Matrix<T>& x, const Visit& visit = {}, const CancelToken* cancel = nullptr,
                      std::vector<Checkpoint<T>>* checkpoints = nullptr) const;
    // The logits of x from a checkpoint of its forward pass, with the hooks' parameters: a
    // quantized layer's twin, or θ + εv for a Hessian-vector product. The checkpoint must come
    // before the first reader of any slot the hooks change (nn::first_reader); `checkpoints`
    // receives the resumed pass's own.
    Matrix<T> resume(const Matrix<T>& x, const Checkpoint<T>& from, const ParameterHooks<T>& hooks,
                     const Visit& visit = {}, const CancelToken* cancel = nullptr,
                     std::vector<Checkpoint<T>>* checkpoints = nullptr) const;
    // Backpropagation with activation checkpointing: the nodes from `from` up to the next
    // checkpoint (`end`, its value `end_value`; the graph's end and its output for the last)
    // recomputed, and `gradient`, ∂L/∂(end_value's output), carried back through them. The
    // gradient to carry on is the result's gradients[from.value]. Parameters' gradients go to
    // hooks.collect (and are dropped without it).
    Segment<T> backward(const Matrix<T>& x, const Checkpoint<T>& from, int end, int end_value,
                        Matrix<T> gradient, const ParameterHooks<T>& hooks = {}) const;
    // One node's parameters in T, in the graph's order (the file's, q/k rows un-permuted), as the
    // hooks adjust them.
    NodeWeights<T> weights(const Node& node, const ParameterHooks<T>* hooks = nullptr) const;

private:
    Matrix<T> run(const Matrix<T>& x, const Checkpoint<T>& from, const Visit& visit,
                  const CancelToken* cancel, std::vector<Checkpoint<T>>* checkpoints,
                  const ParameterHooks<T>* hooks) const;

    const Model& model_;
    const Graph& graph_;
    std::vector<int> last_reader_;
    std::vector<int> cut_value_;  // per node: its Cut's value, or −2 where a pass cannot resume        // per
                                  // node: the last node reading its output (−1: none)
    mutable std::vector<float> scratch_;  // a tensor as read, kept so its pages are touched once
};

extern template class StreamedNetwork<float>;
extern template class StreamedNetwork<double>;
extern template class StreamedNetwork<Dual>;

}  // namespace quantlens::nn

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

// Where a pass can resume: before node `node`, at most one earlier node's output (`value`'s;
// −1: none) is still to be read. In a transformer, the residual stream between sublayers.
// Values for one slot of the flat parameter vector (identified by its offset), in graph order.
template <typename T>
struct SlotValues {
    std::size_t offset = 0;
    Vector<T> values;
};

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
    // The logits of x from a checkpoint of its forward pass, with one slot's values replaced in
    // every node reading it (a tied head and its embedding share one): a quantized layer's twin.
    // The checkpoint must come before the slot's first reader (first_reader).
    Matrix<T> resume(const Matrix<T>& x, const Checkpoint<T>& from, const SlotValues<T>& replaced,
                     const Visit& visit = {}, const CancelToken* cancel = nullptr) const;
    int first_reader(const ParameterSlot& slot) const;  // the first node reading the slot's values
    // Backpropagation with activation checkpointing: the nodes from `from` up to the next
    // checkpoint (`end`, its value `end_value`; the graph's end and its output for the last)
    // recomputed, and `gradient`, ∂L/∂(end_value's output), carried back through them. The
    // gradient to carry on is the result's gradients[from.value].
    Segment<T> backward(const Matrix<T>& x, const Checkpoint<T>& from, int end, int end_value,
                        Matrix<T> gradient) const;
    // One node's parameters in T, in the graph's order (the file's, q/k rows un-permuted).
    NodeWeights<T> weights(const Node& node) const;

private:
    Matrix<T> run(const Matrix<T>& x, const Checkpoint<T>& from, const Visit& visit,
                  const CancelToken* cancel, std::vector<Checkpoint<T>>* checkpoints,
                  const SlotValues<T>* replaced) const;

    const Model& model_;
    const Graph& graph_;
    std::vector<int> last_reader_;        // per node: the last node reading its output (−1: none)
    mutable std::vector<float> scratch_;  // a tensor as read, kept so its pages are touched once
};

extern template class StreamedNetwork<float>;
extern template class StreamedNetwork<double>;

}  // namespace quantlens::nn

#pragma once
// A Graph evaluated on Eigen in float32 (the default, as models run) or float64 (verification,
// Hessians): forward with every node's output kept (activation capture), the mean cross-entropy
// over integer labels, and backpropagation to every parameter and to the inputs. Samples are
// rows: inputs [N, input.size()] with spatial inputs flattened channels-last, as Keras stores them.
#include <cstdint>
#include <optional>
#include <vector>

#include <Eigen/Dense>

#include "nn/dual.hpp"
#include "nn/graph.hpp"

namespace quantlens::nn {

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// Every node's output on one batch (node i's at outputs[i]), the input it ran on, and logits.
template <typename T>
struct ForwardTrace {
    Matrix<T> input;
    std::vector<Matrix<T>> outputs;
    const Matrix<T>& output_of(int node) const {
        return node < 0 ? input : outputs[static_cast<std::size_t>(node)];
    }
};

// What one backward pass gives: ∂L/∂θ (flat, as Graph::parameters), ∂L/∂x, and on request
// ∂L/∂(each node's output).
template <typename T>
struct Gradients {
    Vector<T> parameters;
    Matrix<T> input;
    std::vector<Matrix<T>> outputs;  // filled when asked for
};

template <typename T>
class Network {
public:
    explicit Network(Graph graph);

    const Graph& graph() const { return graph_; }
    std::size_t parameter_count() const { return static_cast<std::size_t>(theta_.size()); }
    std::size_t input_size() const { return static_cast<std::size_t>(graph_.input.size()); }
    std::size_t output_size() const {
        return static_cast<std::size_t>(graph_.nodes[static_cast<std::size_t>(graph_.output)].out.size());
    }
    const Vector<T>& parameters() const { return theta_; }
    void set_parameters(const Vector<T>& theta);
    // One parameter tensor (e.g. a layer's kernel) replaced, in the file's layout.
    void set_slot(const ParameterSlot& slot, const std::vector<float>& values);

    // `pattern`: a pass whose ReLU masks and max-pool choices this one keeps (the network's
    // linear piece at that pass's parameters), as an HVP by differences of gradients needs.
    ForwardTrace<T> run(const Matrix<T>& x, const ForwardTrace<T>* pattern = nullptr) const;
    Matrix<T> forward(const Matrix<T>& x) const;  // logits [N, classes]
    double loss(const Matrix<T>& x, const std::vector<std::int64_t>& labels) const;
    // Mean cross-entropy and its gradients; `node_gradients` also keeps ∂L/∂(every node output).
    double loss_and_gradient(const Matrix<T>& x, const std::vector<std::int64_t>& labels,
                             Gradients<T>& gradients, bool node_gradients = false,
                             ForwardTrace<T>* trace = nullptr,
                             const ForwardTrace<T>* pattern = nullptr) const;
    // The loss of given logits: mean cross-entropy over the labels, or for a language model over
    // the next token of every position but the last; `gradient` receives ∂L/∂logits.
    double objective(const Matrix<T>& logits, const Matrix<T>& x, const std::vector<std::int64_t>& labels,
                     Matrix<T>* gradient = nullptr) const;
    // Logits one row per prediction ([N·tokens, vocabulary] for a language model) and their targets (−1:
    // none).
    Matrix<T> position_logits(const Matrix<T>& logits) const;
    std::vector<std::int64_t> targets(const Matrix<T>& x, const std::vector<std::int64_t>& labels) const;
    // Backpropagation of a given ∂L/∂logits through a recorded forward pass.
    void backward(const ForwardTrace<T>& trace, const Matrix<T>& logits_gradient, Gradients<T>& gradients,
                  bool node_gradients = false, const ForwardTrace<T>* pattern = nullptr) const;

private:
    Graph graph_;
    Vector<T> theta_;
};

// The mean cross-entropy of logits against integer labels (−1: a row without a target, left
// out of the mean), and ∂/∂logits when asked.
template <typename T>
double cross_entropy(const Matrix<T>& logits, const std::vector<std::int64_t>& labels,
                     Matrix<T>* gradient = nullptr);
// Error naming the width the network takes unless a sample has that many values.
void require_input_width(const Graph& graph, Eigen::Index values_per_sample);

// What Network<T>'s objective, position_logits and targets give, from the graph alone (a
// StreamedNetwork holds no Network).
template <typename T>
double objective(const Graph& graph, const Matrix<T>& logits, const Matrix<T>& x,
                 const std::vector<std::int64_t>& labels, Matrix<T>* gradient = nullptr);
template <typename T>
Matrix<T> position_logits(const Graph& graph, const Matrix<T>& logits);
template <typename T>
std::vector<std::int64_t> targets(const Graph& graph, const Matrix<T>& x,
                                  const std::vector<std::int64_t>& labels);
// Row-wise softmax.
template <typename T>
Matrix<T> softmax_rows(const Matrix<T>& logits);

// H·v of the mean cross-entropy in float64, exact: the network run on Duals (nn/dual.hpp) whose
// parameters are θ + ε·v, so one forward and one backward pass give ∇L and, in the tangents, H·v
// (forward-over-reverse, Pearlmutter's R-operator). No step size and no truncation: against
// PyTorch's double backward it agrees to rounding (below 10⁻¹² relative on every golden network,
// tested). ReLU masks and max-pool choices are θ's (autograd's convention, ReLU'' = 0). Its cost
// is one gradient's values plus the tangents' products, about two gradients (bench_engine); the
// five-point stencil of gradient differences it replaced took four, and stays in the tests as a
// cross-check (tests/core/engine_support.hpp).
class HessianVectorProducts {
public:
    // Keeps a reference to labels: they must outlive this object.
    HessianVectorProducts(const Network<double>& network, const Matrix<double>& x,
                          const std::vector<std::int64_t>& labels);
    Eigen::VectorXd operator()(const Eigen::VectorXd& v);

private:
    Network<Dual> network_;  // θ in the values; each product sets v in the tangents
    Matrix<Dual> x_;         // the inputs, constant (zero tangent)
    const std::vector<std::int64_t>& labels_;
    Vector<Dual> theta_;
    Gradients<Dual> gradients_;
};
// One product (a HessianVectorProducts for many: it converts the network and inputs once).
Eigen::VectorXd hessian_vector(const Network<double>& network, const Matrix<double>& x,
                               const std::vector<std::int64_t>& labels, const Eigen::VectorXd& v);

extern template class Network<float>;
extern template class Network<double>;
extern template class Network<Dual>;

}  // namespace quantlens::nn

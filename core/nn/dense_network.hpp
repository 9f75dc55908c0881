#pragma once
// A feed-forward network of Dense layers built from a Keras model (Sequential stack of Dense
// layers with their `activation`), evaluated in float64 on Eigen: forward, the mean
// cross-entropy loss, its exact gradient (backpropagation), and exact Hessian-vector products
// by Pearlmutter's R-operator (forward-over-reverse written out for these layers), so HVPs carry
// no finite-difference error. A final softmax is folded into the cross-entropy, as PyTorch's
// cross_entropy takes logits. Parameters are one vector, layer by layer: weight [out, in]
// row-major, then bias; a block is one layer's weight and bias.
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "model/model.hpp"

namespace quantlens {

enum class Activation { Linear, Relu, Tanh, Sigmoid, Softmax };

struct DenseLayer {
    std::string name;
    Eigen::MatrixXd weight;  // [out, in]
    Eigen::VectorXd bias;    // [out]
    Activation activation = Activation::Linear;
};

struct ParameterBlock {
    std::string layer;
    std::size_t offset = 0, size = 0;  // into the parameter vector
};

class DenseNetwork {
public:
    // Error naming the layer and what is supported for anything but a Dense stack.
    static DenseNetwork from_keras(const Model& model);
    explicit DenseNetwork(std::vector<DenseLayer> layers);

    const std::vector<DenseLayer>& layers() const { return layers_; }
    std::vector<ParameterBlock> blocks() const;
    std::size_t parameter_count() const;
    std::size_t input_size() const { return static_cast<std::size_t>(layers_.front().weight.cols()); }
    std::size_t output_size() const { return static_cast<std::size_t>(layers_.back().weight.rows()); }
    Eigen::VectorXd parameters() const;
    void set_parameters(const Eigen::VectorXd& theta);

    // Logits [N, classes] of inputs X [N, in] (the last layer before its softmax).
    Eigen::MatrixXd forward(const Eigen::MatrixXd& x) const;
    // Mean cross-entropy over the samples of the logits against integer labels.
    double loss(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& labels) const;
    double loss_and_gradient(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& labels, Eigen::VectorXd& gradient) const;
    // H·v for the mean cross-entropy's Hessian with respect to the parameters (exact).
    Eigen::VectorXd hessian_vector(const Eigen::MatrixXd& x, const std::vector<std::int64_t>& labels, const Eigen::VectorXd& v) const;

private:
    std::vector<DenseLayer> layers_;
};

}  // namespace quantlens

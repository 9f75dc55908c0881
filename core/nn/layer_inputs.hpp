#pragma once
// What a layer's weight multiplies, from a recorded forward pass (activation capture): the
// rows X [rows, cols] with cols in the order of the weight's output-channels-first matrix
// (Dense: the input features; Conv2D: (in, kh, kw), each output position a row). This is what
// GPTQ's Hessian 2XᵀX/N, smoothing and the Tr(2XᵀX)/N proxy need. DepthwiseConv2D has no
// shared X (each output channel reads its own input channel): per_channel_sq_norms serves it.
#include <optional>
#include <vector>

#include "nn/network.hpp"

namespace quantlens::nn {

template <typename T>
std::optional<Matrix<float>> layer_inputs(const Node& node, const ForwardTrace<T>& trace);

// Σ x² per row of the weight's output-channels-first matrix and per column, over every row of X
// (for a Dense or Conv2D layer each weight row sees the same X, so every row is the same).
template <typename T>
Eigen::MatrixXd input_square_sums(const Node& node, const ForwardTrace<T>& trace);

}  // namespace quantlens::nn

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
// The same from the node's first input itself (a StreamedNetwork keeps no trace).
template <typename T>
std::optional<Matrix<float>> layer_inputs(const Node& node, const Matrix<T>& input);

// Σ x² over every row of X, per column of the weight's output-channels-first matrix: one row for
// a Dense or Conv2D layer (each weight row sees the same X), one per weight row for a
// DepthwiseConv2D (each reads its own channel). Weight row r's sums are row r % rows().
template <typename T>
Eigen::MatrixXd input_square_sums(const Node& node, const ForwardTrace<T>& trace);
template <typename T>
Eigen::MatrixXd input_square_sums(const Node& node, const Matrix<T>& input);

}  // namespace quantlens::nn

#pragma once
// Each node kind's forward and backward (vector-Jacobian product), in the scalar type T.
// Forward reads the node's inputs and its parameter slots from θ; backward adds (+=) ∂L/∂θ into
// `gradient` and ∂L/∂input into those of `input_gradients` that are not null, so fan-out
// (a tensor feeding two nodes, as around a residual Add) sums as the chain rule asks.
// `gate` is what ReLU's mask and max-pool's choice are decided on: the input itself, or the
// input of a reference pass, which freezes the network's piecewise-linear pattern (see
// hessian_vector in network.hpp).
#include <vector>

#include "nn/graph.hpp"
#include "nn/network.hpp"

namespace quantlens::nn {

template <typename T>
using Inputs = std::vector<const Matrix<T>*>;
template <typename T>
using InputGradients = std::vector<Matrix<T>*>;

template <typename T>
Matrix<T> forward_node(const Node& node, const Inputs<T>& inputs, const Matrix<T>& gate, const T* theta);
template <typename T>
void backward_node(const Node& node, const Inputs<T>& inputs, const Matrix<T>& gate, const Matrix<T>& output,
                   const Matrix<T>& output_gradient, const T* theta, T* gradient,
                   const InputGradients<T>& input_gradients);

// The per-kind halves, one file per family (ops_linear, ops_pointwise, ops_pool).
template <typename T>
Matrix<T> dense_forward(const Node&, const Matrix<T>& x, const T* theta);
template <typename T>
void dense_backward(const Node&, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                    Matrix<T>* dx);
template <typename T>
Matrix<T> conv2d_forward(const Node&, const Matrix<T>& x, const T* theta);
template <typename T>
void conv2d_backward(const Node&, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                     Matrix<T>* dx);
template <typename T>
Matrix<T> depthwise_forward(const Node&, const Matrix<T>& x, const T* theta);
template <typename T>
void depthwise_backward(const Node&, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                        Matrix<T>* dx);
template <typename T>
Matrix<T> activation_forward(const Node&, const Matrix<T>& x, const Matrix<T>& gate);
template <typename T>
void activation_backward(const Node&, const Matrix<T>& x, const Matrix<T>& gate, const Matrix<T>& y,
                         const Matrix<T>& dy, Matrix<T>* dx);
template <typename T>
Matrix<T> batch_norm_forward(const Node&, const Matrix<T>& x, const T* theta);
template <typename T>
void batch_norm_backward(const Node&, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                         Matrix<T>* dx);
template <typename T>
Matrix<T> pool_forward(const Node&, const Matrix<T>& x, const Matrix<T>& gate);
template <typename T>
void pool_backward(const Node&, const Matrix<T>& x, const Matrix<T>& gate, const Matrix<T>& dy,
                   Matrix<T>* dx);

template <typename T>
Matrix<T> embedding_forward(const Node&, const Matrix<T>& ids, const T* theta);
template <typename T>
void embedding_backward(const Node&, const Matrix<T>& ids, const Matrix<T>& dy, T* gradient);
template <typename T>
Matrix<T> position_forward(const Node&, const Matrix<T>& x, const T* theta);
template <typename T>
void position_backward(const Node&, const Matrix<T>& dy, T* gradient, Matrix<T>* dx);
template <typename T>
Matrix<T> norm_forward(const Node&, const Matrix<T>& x, const T* theta);  // LayerNorm, RMSNorm
template <typename T>
void norm_backward(const Node&, const Matrix<T>& x, const Matrix<T>& dy, const T* theta, T* gradient,
                   Matrix<T>* dx);
template <typename T>
Matrix<T> slice_forward(const Node&, const Matrix<T>& x);
template <typename T>
void slice_backward(const Node&, const Matrix<T>& dy, Matrix<T>* dx);
template <typename T>
Matrix<T> attention_forward(const Node&, const Inputs<T>& inputs);
template <typename T>
void attention_backward(const Node&, const Inputs<T>& inputs, const Matrix<T>& dy,
                        const InputGradients<T>& dx);

// LRP's linear steps through transformer pieces (Ali et al. 2022, AttnLRP): with the norm's
// 1/σ and the attention probabilities held constant, these are the Jᵀ·s of the generic rule.
// Attention passes relevance down the value path only; q and k get none.
Matrix<double> norm_relevance_vjp(const Node& node, const Matrix<double>& x, const Matrix<double>& s,
                                  const double* theta);
void attention_value_relevance_vjp(const Node& node, const Inputs<double>& inputs, const Matrix<double>& s,
                                   const InputGradients<double>& into);

// Calls visit(n, position, tap, pixel) for every sample n, output position ho·Wo + wo, window
// tap i·kw + j and the input pixel hi·W + wi under it, skipping taps that fall in the padding:
// the one walk over windows that convolutions, their patches and pools share.
template <typename Visit>
void for_each_tap(const Node& node, Eigen::Index samples, Visit&& visit) {
    const Eigen::Index h = node.in.dims[0], w = node.in.dims[1], ho_count = node.out.dims[0],
                       wo_count = node.out.dims[1];
    const auto& win = node.window;
    for (Eigen::Index n = 0; n < samples; ++n)
        for (Eigen::Index ho = 0; ho < ho_count; ++ho)
            for (Eigen::Index wo = 0; wo < wo_count; ++wo)
                for (int i = 0; i < win.kh; ++i) {
                    const Eigen::Index hi = ho * win.sh + i - win.pad_top;
                    if (hi < 0 || hi >= h)
                        continue;
                    for (int j = 0; j < win.kw; ++j) {
                        const Eigen::Index wi = wo * win.sw + j - win.pad_left;
                        if (wi >= 0 && wi < w)
                            visit(n, ho * wo_count + wo, Eigen::Index(i) * win.kw + j, hi * w + wi);
                    }
                }
}

// Convolution patches: row (n, ho, wo) holds the kh·kw·C input values under the window
// (zeros in the padding), in the order of a Keras kernel's first three axes. Shared by Conv2D
// and the layer-input statistics (Tr(2XᵀX), GPTQ's Hessian) of convolutions.
template <typename T>
Matrix<T> im2col(const Node& node, const Matrix<T>& x);

// The constants BatchNorm is folded from, as a per-channel y = x·a + b (LRP folds them).
std::vector<double> batch_norm_factor(const Node& node, const double* theta);  // a
std::vector<double> batch_norm_offset(const Node& node, const double* theta);  // b

}  // namespace quantlens::nn

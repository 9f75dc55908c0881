// Element-wise activations and BatchNormalization in inference form (moving statistics as
// constants; γ and β are the trainable parameters).
#include <cmath>

#include "nn/ops.hpp"

namespace quantlens::nn {

namespace {

// Unqualified below, so a Dual argument finds its own (nn/dual.hpp) by argument-dependent lookup.
using std::erf;
using std::exp;
using std::sqrt;
using std::tanh;

template <typename T>
T sigmoid(T z) {
    return T(1) / (T(1) + exp(-z));
}

// Keras's "gelu" is the exact one, 0.5·z·(1 + erf(z/√2)) (approximate=False by default).
template <typename T>
T gelu(T z) {
    return T(0.5) * z * (T(1) + erf(z / sqrt(T(2))));
}
template <typename T>
T gelu_derivative(T z) {
    const T pdf = exp(-z * z / T(2)) / sqrt(T(2) * T(M_PI));
    return T(0.5) * (T(1) + erf(z / sqrt(T(2)))) + z * pdf;
}

// GPT-2's gelu_new: 0.5·z·(1 + tanh(√(2/π)·(z + 0.044715·z³))).
template <typename T>
T gelu_tanh(T z) {
    return T(0.5) * z * (T(1) + tanh(sqrt(T(2) / T(M_PI)) * (z + T(0.044715) * z * z * z)));
}
template <typename T>
T gelu_tanh_derivative(T z) {
    const T k = sqrt(T(2) / T(M_PI));
    const T t = tanh(k * (z + T(0.044715) * z * z * z));
    return T(0.5) * (T(1) + t) + T(0.5) * z * (T(1) - t * t) * k * (T(1) + T(3) * T(0.044715) * z * z);
}

}  // namespace

template <typename T>
Matrix<T> activation_forward(const Node& node, const Matrix<T>& x, const Matrix<T>& gate) {
    switch (node.activation) {
        case ActivationKind::Relu: return (x.array() * (gate.array() > T(0)).template cast<T>()).matrix();
        case ActivationKind::Tanh: return x.array().tanh().matrix();
        case ActivationKind::Sigmoid: return x.unaryExpr([](T z) { return sigmoid(z); });
        case ActivationKind::Swish: return x.unaryExpr([](T z) { return z * sigmoid(z); });
        case ActivationKind::Gelu: return x.unaryExpr([](T z) { return gelu(z); });
        case ActivationKind::GeluTanh: return x.unaryExpr([](T z) { return gelu_tanh(z); });
        case ActivationKind::Softmax:
            return softmax_rows<T>(x);  // the builder allows it only where its input is one row per sample
        case ActivationKind::SoftCap: {
            const T cap = static_cast<T>(node.softcap);
            return x.unaryExpr([cap](T z) { return cap * tanh(z / cap); });
        }
        case ActivationKind::Linear: return x;
    }
    return x;
}

template <typename T>
void activation_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& gate, const Matrix<T>& y,
                         const Matrix<T>& dy, Matrix<T>* dx) {
    if (!dx)
        return;
    switch (node.activation) {
        case ActivationKind::Relu:
            dx->array() += dy.array() * (gate.array() > T(0)).template cast<T>();
            return;  // 0 at the kink, as autograd takes it
        case ActivationKind::Tanh: dx->array() += dy.array() * (T(1) - y.array().square()); return;
        case ActivationKind::Sigmoid: dx->array() += dy.array() * y.array() * (T(1) - y.array()); return;
        case ActivationKind::Swish:
            dx->array() += dy.array() * x.unaryExpr([](T z) {
                                             const T s = sigmoid(z);
                                             return s + z * s * (T(1) - s);
                                         }).array();
            return;
        case ActivationKind::Gelu:
            dx->array() += dy.array() * x.unaryExpr([](T z) { return gelu_derivative(z); }).array();
            return;
        case ActivationKind::GeluTanh:
            dx->array() += dy.array() * x.unaryExpr([](T z) { return gelu_tanh_derivative(z); }).array();
            return;
        case ActivationKind::Softmax: {
            const Eigen::Array<T, Eigen::Dynamic, 1> inner = (dy.array() * y.array()).rowwise().sum();
            dx->array() += y.array() * (dy.array().colwise() - inner);
            return;
        }
        case ActivationKind::SoftCap: {  // d/dz cap·tanh(z/cap) = 1 − tanh²
            const T cap = static_cast<T>(node.softcap);
            dx->array() += dy.array() * (T(1) - (y.array() / cap).square());
            return;
        }
        case ActivationKind::Linear: *dx += dy; return;
    }
}

// y = (x·scale + shift)·γ + β per channel (the last axis).
template <typename T>
Matrix<T> batch_norm_forward(const Node& node, const Matrix<T>& x, const T* theta) {
    const Eigen::Index channels = node.in.last(), rows = x.size() / channels;
    const auto* gamma = node.slot("gamma");
    const auto* beta = node.slot("beta");
    Matrix<T> y(x.rows(), x.cols());
    Eigen::Map<const Matrix<T>> xs(x.data(), rows, channels);
    Eigen::Map<Matrix<T>> ys(y.data(), rows, channels);
    for (Eigen::Index c = 0; c < channels; ++c) {
        const T a = T(node.scale[static_cast<std::size_t>(c)]) * (gamma ? theta[gamma->offset + c] : T(1));
        const T b = T(node.shift[static_cast<std::size_t>(c)]) * (gamma ? theta[gamma->offset + c] : T(1)) +
                    (beta ? theta[beta->offset + c] : T(0));
        ys.col(c) = xs.col(c) * a + Eigen::Matrix<T, Eigen::Dynamic, 1>::Constant(rows, b);
    }
    return y;
}

template <typename T>
void batch_norm_backward(const Node& node, const Matrix<T>& x, const Matrix<T>& dy, const T* theta,
                         T* gradient, Matrix<T>* dx) {
    const Eigen::Index channels = node.in.last(), rows = x.size() / channels;
    const auto* gamma = node.slot("gamma");
    const auto* beta = node.slot("beta");
    Eigen::Map<const Matrix<T>> xs(x.data(), rows, channels), dys(dy.data(), rows, channels);
    for (Eigen::Index c = 0; c < channels; ++c) {
        const T scale = T(node.scale[static_cast<std::size_t>(c)]),
                shift = T(node.shift[static_cast<std::size_t>(c)]);
        if (gamma)
            gradient[gamma->offset + c] += (dys.col(c).array() * (xs.col(c).array() * scale + shift)).sum();
        if (beta)
            gradient[beta->offset + c] += dys.col(c).sum();
        if (dx)
            Eigen::Map<Matrix<T>>(dx->data(), rows, channels).col(c) +=
                dys.col(c) * (scale * (gamma ? theta[gamma->offset + c] : T(1)));
    }
}

std::vector<double> batch_norm_factor(const Node& node, const double* theta) {
    const auto* gamma = node.slot("gamma");
    std::vector<double> a(node.scale.size());
    for (std::size_t c = 0; c < a.size(); ++c)
        a[c] = node.scale[c] * (gamma ? theta[gamma->offset + c] : 1.0);
    return a;
}

std::vector<double> batch_norm_offset(const Node& node, const double* theta) {
    const auto* gamma = node.slot("gamma");
    const auto* beta = node.slot("beta");
    std::vector<double> b(node.shift.size());
    for (std::size_t c = 0; c < b.size(); ++c)
        b[c] =
            node.shift[c] * (gamma ? theta[gamma->offset + c] : 1.0) + (beta ? theta[beta->offset + c] : 0.0);
    return b;
}

#define QUANTLENS_POINTWISE_OPS(T)                                                                          \
    template Matrix<T> activation_forward<T>(const Node&, const Matrix<T>&, const Matrix<T>&);              \
    template void activation_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const Matrix<T>&, \
                                         const Matrix<T>&, Matrix<T>*);                                     \
    template Matrix<T> batch_norm_forward<T>(const Node&, const Matrix<T>&, const T*);                      \
    template void batch_norm_backward<T>(const Node&, const Matrix<T>&, const Matrix<T>&, const T*, T*,     \
                                         Matrix<T>*);
QUANTLENS_POINTWISE_OPS(float)
QUANTLENS_POINTWISE_OPS(double)
QUANTLENS_POINTWISE_OPS(Dual)

}  // namespace quantlens::nn

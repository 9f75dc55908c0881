#include "nn/layer_inputs.hpp"

#include "nn/ops.hpp"

namespace quantlens::nn {

namespace {

// im2col's columns are (kh, kw, in) — Keras's kernel order; the quantizer's are (in, kh, kw).
template <typename T>
Matrix<float> to_weight_columns(const Node& node, const Matrix<T>& patches) {
    const Eigen::Index kh = node.window.kh, kw = node.window.kw, c = node.in.last();
    Matrix<float> out(patches.rows(), patches.cols());
    for (Eigen::Index i = 0; i < kh; ++i)
        for (Eigen::Index j = 0; j < kw; ++j)
            for (Eigen::Index ch = 0; ch < c; ++ch)
                out.col((ch * kh + i) * kw + j) = patches.col((i * kw + j) * c + ch).template cast<float>();
    return out;
}

}  // namespace

template <typename T>
std::optional<Matrix<float>> layer_inputs(const Node& node, const ForwardTrace<T>& trace) {
    return layer_inputs(node, trace.output_of(node.inputs.front()));
}

template <typename T>
std::optional<Matrix<float>> layer_inputs(const Node& node, const Matrix<T>& x) {
    if (node.kind == OpKind::Dense) {
        const Eigen::Index in = node.in.last();
        return Eigen::Map<const Matrix<T>>(x.data(), x.size() / in, in).template cast<float>().eval();
    }
    if (node.kind == OpKind::Conv2D)
        return to_weight_columns(node, im2col(node, x));
    return std::nullopt;
}

template <typename T>
Eigen::MatrixXd input_square_sums(const Node& node, const ForwardTrace<T>& trace) {
    return input_square_sums(node, trace.output_of(node.inputs.front()));
}

template <typename T>
Eigen::MatrixXd input_square_sums(const Node& node, const Matrix<T>& input) {
    if (node.kind == OpKind::DepthwiseConv2D) {
        // weight row c·M + m reads channel c under the window: columns (kh, kw)
        const auto& x = input;
        const Matrix<T> patches = im2col(node, x);
        const Eigen::Index c = node.in.last(), taps = Eigen::Index(node.window.kh) * node.window.kw;
        Eigen::MatrixXd sums(c * node.multiplier, taps);
        for (Eigen::Index ch = 0; ch < c; ++ch)
            for (Eigen::Index t = 0; t < taps; ++t) {
                const double s = patches.col(t * c + ch).template cast<double>().squaredNorm();
                for (int m = 0; m < node.multiplier; ++m)
                    sums(ch * node.multiplier + m, t) = s;
            }
        return sums;
    }
    const auto x = layer_inputs(node, input);
    if (!x)
        return {};
    return x->template cast<double>().colwise().squaredNorm();
}

template std::optional<Matrix<float>> layer_inputs<float>(const Node&, const ForwardTrace<float>&);
template std::optional<Matrix<float>> layer_inputs<double>(const Node&, const ForwardTrace<double>&);
template Eigen::MatrixXd input_square_sums<float>(const Node&, const ForwardTrace<float>&);
template Eigen::MatrixXd input_square_sums<double>(const Node&, const ForwardTrace<double>&);
template std::optional<Matrix<float>> layer_inputs<float>(const Node&, const Matrix<float>&);
template std::optional<Matrix<float>> layer_inputs<double>(const Node&, const Matrix<double>&);
template Eigen::MatrixXd input_square_sums<float>(const Node&, const Matrix<float>&);
template Eigen::MatrixXd input_square_sums<double>(const Node&, const Matrix<double>&);

}  // namespace quantlens::nn

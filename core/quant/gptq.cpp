#include "quant/gptq.hpp"

#include <algorithm>

namespace quantlens {

GptqHessian prepare_gptq(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions& options) {
    if (!options.inputs || options.inputs->samples == 0)
        throw Error(
            "", "spec \"" + spec.to_string() + "\"",
            "round=gptq needs calibration inputs of the layer (X: samples × " + std::to_string(w.cols) + ")");
    const auto& inputs = *options.inputs;
    if (inputs.features != w.cols)
        throw Error("", "calibration inputs",
                    "have " + std::to_string(inputs.features) +
                        " features but the layer's input dimension is " + std::to_string(w.cols));
    using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Index n = w.cols;
    RowMatrixD x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
                       inputs.values.data(), inputs.samples, n)
                       .cast<double>();
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(n, n);
    h.selfadjointView<Eigen::Lower>().rankUpdate(x.transpose(), 2.0 / static_cast<double>(inputs.samples));
    h = h.selfadjointView<Eigen::Lower>();

    GptqHessian result;
    result.dead.assign(static_cast<std::size_t>(n), false);
    for (Eigen::Index i = 0; i < n; ++i)
        if (h(i, i) == 0) {
            h(i, i) = 1;
            result.dead[static_cast<std::size_t>(i)] = true;
        }
    const double damping = spec.damp * h.diagonal().mean();
    h.diagonal().array() += damping;

    result.order.resize(static_cast<std::size_t>(n));
    std::iota(result.order.begin(), result.order.end(), 0);
    if (spec.act_order)
        std::stable_sort(result.order.begin(), result.order.end(),
                         [&](std::int64_t a, std::int64_t b) { return h(a, a) > h(b, b); });
    Eigen::MatrixXd permuted(n, n);
    for (Eigen::Index i = 0; i < n; ++i)
        for (Eigen::Index j = 0; j < n; ++j)
            permuted(i, j) =
                h(result.order[static_cast<std::size_t>(i)], result.order[static_cast<std::size_t>(j)]);

    Eigen::LLT<Eigen::MatrixXd> factor(permuted);
    if (factor.info() != Eigen::Success)
        throw Error("", "calibration inputs",
                    "the layer Hessian 2XᵀX/N is not positive definite even after dampening; raise damp");
    Eigen::MatrixXd inverse = factor.solve(Eigen::MatrixXd::Identity(n, n));
    Eigen::LLT<Eigen::MatrixXd> inverse_factor(inverse);
    if (inverse_factor.info() != Eigen::Success)
        throw Error("", "calibration inputs", "the inverse Hessian is not positive definite; raise damp");
    result.inverse_upper = inverse_factor.matrixU().toDenseMatrix().cast<float>();
    return result;
}

}  // namespace quantlens

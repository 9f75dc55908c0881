#pragma once
// The engine's PyTorch goldens (samples/engine_samples.py, samples/lm_samples.py): one npz
// member per quantity, per-tensor ones named "<kind>__<file tensor>" with / as . and : as _.
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include <Eigen/Dense>
#include <catch2/catch.hpp>

#include "io/open_model.hpp"
#include "nn/graph.hpp"
#include "nn/network.hpp"
#include "sensitivity/hessian_sensitivity.hpp"
#include "sensitivity/labelled_data.hpp"
#include "tensor/convert.hpp"
#include "test_support.hpp"

namespace quantlens::test {

inline std::string golden_key(const std::string& kind, std::string tensor) {
    for (auto& c : tensor)
        c = c == '/' ? '.' : c == ':' ? '_' : c;
    return kind + "__" + tensor;
}

struct EngineGolden {
    std::unique_ptr<ModelFile> file;
    explicit EngineGolden(const std::string& name) : file(open_model_file(data_path("golden/" + name))) {}
    Eigen::VectorXd operator()(const std::string& name) const {
        const auto& info = file->tensor(name);
        std::vector<double> values(info.elements());
        const auto bytes = file->read(info);
        decode_to_f64(info.dtype, bytes.bytes(), values);
        return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(values.size()));
    }
    // A flat parameter-vector quantity ("gradient", "v", "hvp") assembled slot by slot.
    Eigen::VectorXd flat(const nn::Graph& graph, const std::string& kind) const {
        Eigen::VectorXd out = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(graph.parameters.size()));
        for (const auto& node : graph.nodes)
            for (const auto& slot : node.parameters)
                out.segment(static_cast<Eigen::Index>(slot.offset), static_cast<Eigen::Index>(slot.size)) =
                    (*this)(golden_key(kind, slot.tensor));
        return out;
    }
};

inline double relative(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
    return (a - b).norm() / b.norm();
}

// The cross-check of the exact HVPs (nn::HessianVectorProducts): H·v by differences of exact
// gradients, the five-point stencil [8(∇L(θ+hv) − ∇L(θ−hv)) − (∇L(θ+2hv) − ∇L(θ−2hv))] / 12h
// (Richardson's extrapolation of two central differences, truncation O(h⁴)) with
// h = ∛ε · (1 + ‖θ‖∞) / ‖v‖∞. All four gradients are taken on the network's linear piece at θ
// (ReLU masks and max-pool choices frozen at θ's, as autograd's ReLU'' = 0), so a unit near its
// kink cannot switch inside the step. What remains is rounding, ≈ ε·‖∇L‖/h: below 10⁻⁸ relative
// to PyTorch's double backward on the golden networks, against the exact product's 10⁻¹².
class StencilHessianVectorProducts {
public:
    StencilHessianVectorProducts(const nn::Network<double>& network, const nn::Matrix<double>& x,
                                 const std::vector<std::int64_t>& labels)
        : moved_(network), x_(x), labels_(labels), theta_(network.parameters()), pattern_(network.run(x)) {}

    Eigen::VectorXd operator()(const Eigen::VectorXd& v) {
        const double v_max = v.cwiseAbs().maxCoeff();
        if (v_max == 0)
            return Eigen::VectorXd::Zero(theta_.size());
        const double h =
            std::cbrt(std::numeric_limits<double>::epsilon()) * (1 + theta_.cwiseAbs().maxCoeff()) / v_max;
        auto gradient_at = [&](double step) -> Eigen::VectorXd {
            moved_.set_parameters(theta_ + step * v);
            moved_.loss_and_gradient(x_, labels_, gradients_, false, nullptr, &pattern_);
            return gradients_.parameters;
        };
        Eigen::VectorXd sum = 8 * (gradient_at(h) - gradient_at(-h));
        sum -= gradient_at(2 * h) - gradient_at(-2 * h);
        return sum / (12 * h);
    }

private:
    nn::Network<double> moved_;
    const nn::Matrix<double>& x_;
    const std::vector<std::int64_t>& labels_;
    Eigen::VectorXd theta_;
    nn::ForwardTrace<double> pattern_;
    nn::Gradients<double> gradients_;
};

// A row-major matrix's values in order (an expression is evaluated first).
template <typename M>
Eigen::VectorXd flat_rows(const M& m) {
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> evaluated = m;
    return Eigen::Map<const Eigen::VectorXd>(evaluated.data(), evaluated.size());
}

// What every sample network is checked for against its goldens: float64 logits and loss to
// 1e-12, gradients to 1e-9, one exact HVP to 1e-12 (and the stencil's to 1e-8, the cross-check);
// float32 logits, loss and gradients to 1e-4.
inline void check_network_against_golden(const nn::Graph& graph, const LabelledData& data,
                                         const EngineGolden& golden) {
    const nn::Network<double> network(graph);
    CHECK(relative(flat_rows(network.forward(data.x)), golden("logits")) < 1e-12);
    nn::Gradients<double> gradients;
    CHECK(network.loss_and_gradient(data.x, data.y, gradients) == Approx(golden("loss")[0]).epsilon(1e-12));
    CHECK(relative(gradients.parameters, golden.flat(graph, "gradient")) < 1e-9);
    const auto v = golden.flat(graph, "v"), hvp = golden.flat(graph, "hvp");
    CHECK(relative(nn::hessian_vector(network, data.x, data.y, v), hvp) < 1e-12);
    CHECK(relative(StencilHessianVectorProducts(network, data.x, data.y)(v), hvp) < 1e-8);
    const nn::Network<float> single(graph);  // float32, as models run
    const nn::Matrix<float> x32 = data.x.cast<float>();
    CHECK(relative(flat_rows(single.forward(x32).cast<double>()), golden("logits")) < 1e-4);
    nn::Gradients<float> gradients32;
    CHECK(single.loss_and_gradient(x32, data.y, gradients32) == Approx(golden("loss")[0]).epsilon(1e-4));
    CHECK(relative(gradients32.parameters.cast<double>(), golden.flat(graph, "gradient")) < 1e-4);
}

// The exact Hessian trace of the network's parameter block `layer` against the golden
// "trace__<golden_layer>" (the same layer under its name in the goldens' model).
inline void check_block_trace(const nn::Network<double>& network, const LabelledData& data,
                              const EngineGolden& golden, const std::string& layer,
                              std::string golden_layer = "", double tolerance = 1e-6) {
    if (golden_layer.empty())
        golden_layer = layer;
    const auto hvp = hessian_vector_products(network, data.x, data.y);
    bool traced = false;
    for (const auto& block : network.graph().blocks())
        if (block.layer == layer) {
            CHECK(exact_block_trace(on_block(hvp, network.parameter_count(), block), block) ==
                  Approx(golden("trace__" + golden_layer)[0]).epsilon(tolerance));
            traced = true;
        }
    CHECK(traced);
}

}  // namespace quantlens::test

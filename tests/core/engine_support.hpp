#pragma once
// The engine's PyTorch goldens (samples/engine_samples.py, samples/lm_samples.py): one npz
// member per quantity, per-tensor ones named "<kind>__<file tensor>" with / as . and : as _.
#include <memory>
#include <string>

#include <Eigen/Dense>

#include "io/open_model.hpp"
#include "nn/graph.hpp"
#include "tensor/convert.hpp"
#include "test_support.hpp"

namespace quantlens::test {

inline std::string golden_key(const std::string& kind, std::string tensor) {
    for (auto& c : tensor) c = c == '/' ? '.' : c == ':' ? '_' : c;
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
                out.segment(static_cast<Eigen::Index>(slot.offset), static_cast<Eigen::Index>(slot.size)) = (*this)(golden_key(kind, slot.tensor));
        return out;
    }
};

inline double relative(const Eigen::VectorXd& a, const Eigen::VectorXd& b) { return (a - b).norm() / b.norm(); }

// A row-major matrix's values in order (an expression is evaluated first).
template <typename M>
Eigen::VectorXd flat_rows(const M& m) {
    const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> evaluated = m;
    return Eigen::Map<const Eigen::VectorXd>(evaluated.data(), evaluated.size());
}

}  // namespace quantlens::test

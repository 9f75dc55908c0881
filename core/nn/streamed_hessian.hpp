#pragma once
// Exact Hessian-vector products of the mean cross-entropy, streamed: the forward-over-reverse of
// nn::HessianVectorProducts (Duals whose tangents carry v) run on a StreamedNetwork, so the model
// is never in memory whole. A float64 forward pass keeps checkpoints once. A product on one
// parameter block resumes in Duals from the checkpoint before the block's first reader (upstream
// of it every tangent is zero), keeps its own checkpoints, and sweeps back to that one,
// recomputing one stretch at a time: a late layer's product costs the layers after it. A joint
// product perturbs every parameter at once with a Rademacher v drawn slot by slot, and gives
// vᵀ_b (Hv)_b for every block b from one pass. Both agree with the whole network's products to
// rounding (tested).
#include <cstdint>
#include <vector>

#include "nn/streamed_network.hpp"

namespace quantlens::nn {

// The Rademacher values (±1) of a joint product's v on one slot: drawn from (seed, the slot's
// offset) alone, so both readers of a tied slot, and a test rebuilding v, get the same.
Eigen::VectorXd slot_rademacher(std::uint64_t seed, std::size_t offset, std::size_t size);

class StreamedHessian {
public:
    // `graph`, `model` and `labels` are referenced and must outlive this object; x is copied.
    StreamedHessian(const Model& model, const Graph& graph, const Matrix<double>& x,
                    const std::vector<std::int64_t>& labels, const CancelToken* cancel = nullptr);
    double loss() const { return loss_; }
    // (H·v) on the block's parameters, for v on them (block.size values; zero elsewhere).
    Eigen::VectorXd operator()(const ParameterBlock& block, const Eigen::VectorXd& v,
                               const CancelToken* cancel = nullptr) const;
    // vᵀ_b (H v)_b for each of `blocks`, v Rademacher on every parameter (slot_rademacher).
    std::vector<double> joint(std::uint64_t seed, const std::vector<ParameterBlock>& blocks,
                              const CancelToken* cancel = nullptr) const;

private:
    // One product from checkpoint `start` with these hooks (tangents in, gradients out).
    void product(std::size_t start, const ParameterHooks<Dual>& hooks, const CancelToken* cancel) const;

    const Graph& graph_;
    StreamedNetwork<double> values_;
    StreamedNetwork<Dual> duals_;
    Matrix<Dual> x_;
    const std::vector<std::int64_t>& labels_;
    std::vector<Checkpoint<double>> checkpoints_;
    double loss_ = 0;
};

}  // namespace quantlens::nn

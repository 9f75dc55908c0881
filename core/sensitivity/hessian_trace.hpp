#pragma once
// Per-layer Hessian traces (HAWQ-V2, docs/metrics.md §6). Hutchinson: Tr(H_ii) = E[vᵀ H v] over
// Rademacher vectors v drawn on layer i's parameters only (zero elsewhere), with PyHessian's
// stopping rule (at most max_samples; stop when the running mean moves by less than tolerance
// relative to the previous one) and the standard error of the samples. The exact trace (Σ of
// the block's diagonal, one HVP per parameter) is there for small layers and for tests.
#include <cstdint>
#include <functional>
#include <vector>

#include <Eigen/Dense>

#include "nn/graph.hpp"
#include "util/progress.hpp"

namespace quantlens {

using nn::ParameterBlock;

struct TraceEstimate {
    double trace = 0;           // mean of vᵀHv
    double standard_error = 0;  // of that mean (sample standard deviation / √samples)
    int samples = 0;
};

struct HutchinsonOptions {
    int max_samples = 100;    // PyHessian's maxIter
    double tolerance = 1e-3;  // PyHessian's tol
    int min_samples = 2;      // a standard error needs two
    std::uint64_t seed = 0;
    // Joint: each sample is one product over every parameter, v Rademacher on all of them, and
    // gives every layer's vᵀ_b (Hv)_b at once (unbiased: the cross terms vᵀ_b H_bc v_c have mean
    // zero). As many times fewer products as there are layers, at a larger variance per
    // sample, which the standard errors show.
    bool joint = false;
};

// H·v over every parameter, and over one block's: v on the block's parameters (block.size
// values, zero elsewhere) and the block's part of H·v (what a streamed product computes).
using HessianVectorProduct = std::function<Eigen::VectorXd(const Eigen::VectorXd&)>;
using BlockHessianProduct = std::function<Eigen::VectorXd(const Eigen::VectorXd&)>;
// A whole-vector product restricted to one block.
BlockHessianProduct on_block(HessianVectorProduct hvp, std::size_t parameters, const ParameterBlock& block);

TraceEstimate hutchinson_trace(const BlockHessianProduct& hvp, const ParameterBlock& block,
                               const HutchinsonOptions& options = {}, const CancelToken* cancel = nullptr);
double exact_block_trace(const BlockHessianProduct& hvp, const ParameterBlock& block,
                         const CancelToken* cancel = nullptr);

// Every block's trace from shared samples: sample(k) gives vᵀ_b (Hv)_b of each of `blocks`
// blocks from the k-th joint product. The stopping rule waits for every block's mean to settle.
using JointSample = std::function<std::vector<double>(int k)>;
std::vector<TraceEstimate> hutchinson_joint(const JointSample& sample, std::size_t blocks,
                                            const HutchinsonOptions& options = {},
                                            const CancelToken* cancel = nullptr);

// HAWQ-V2's sensitivity of a layer quantized with some spec: Ω = Tr(H)/n · ‖Q(W) − W‖² (eq. of §12).
inline double hawq_sensitivity(double trace, std::size_t parameters, double squared_error) {
    return parameters ? trace / static_cast<double>(parameters) * squared_error : 0;
}

}  // namespace quantlens

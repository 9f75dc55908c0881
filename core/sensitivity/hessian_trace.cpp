#include "sensitivity/hessian_trace.hpp"

#include <cmath>
#include <random>

namespace quantlens {

TraceEstimate hutchinson_trace(const HessianVectorProduct& hvp, std::size_t parameters,
                               const ParameterBlock& block, const HutchinsonOptions& options,
                               const CancelToken* cancel) {
    std::mt19937_64 rng(options.seed ^ (0x9E3779B97F4A7C15ULL * (block.offset + 1)));
    std::bernoulli_distribution coin(0.5);
    std::vector<double> samples;
    double previous_mean = 0;
    TraceEstimate estimate;
    for (int k = 0; k < options.max_samples; ++k) {
        if (cancel)
            cancel->throw_if_cancelled();
        Eigen::VectorXd v = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(parameters));
        for (std::size_t i = 0; i < block.size; ++i)
            v[static_cast<Eigen::Index>(block.offset + i)] = coin(rng) ? 1.0 : -1.0;
        const Eigen::VectorXd hv = hvp(v);
        samples.push_back(
            v.segment(static_cast<Eigen::Index>(block.offset), static_cast<Eigen::Index>(block.size))
                .dot(hv.segment(static_cast<Eigen::Index>(block.offset),
                                static_cast<Eigen::Index>(block.size))));
        double mean = 0;
        for (double s : samples)
            mean += s;
        mean /= static_cast<double>(samples.size());
        // PyHessian: stop when |mean_k − mean_{k−1}| / (|mean_{k−1}| + 1e-6) < tol
        const bool settled =
            samples.size() >= static_cast<std::size_t>(std::max(options.min_samples, 2)) &&
            std::fabs(mean - previous_mean) / (std::fabs(previous_mean) + 1e-6) < options.tolerance;
        previous_mean = mean;
        estimate.trace = mean;
        if (settled)
            break;
    }
    estimate.samples = static_cast<int>(samples.size());
    if (samples.size() > 1) {
        double variance = 0;
        for (double s : samples)
            variance += (s - estimate.trace) * (s - estimate.trace);
        variance /= static_cast<double>(samples.size() - 1);
        estimate.standard_error = std::sqrt(variance / static_cast<double>(samples.size()));
    }
    return estimate;
}

double exact_block_trace(const HessianVectorProduct& hvp, std::size_t parameters, const ParameterBlock& block,
                         const CancelToken* cancel) {
    double trace = 0;
    Eigen::VectorXd e = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(parameters));
    for (std::size_t i = 0; i < block.size; ++i) {
        if (cancel)
            cancel->throw_if_cancelled();
        const auto index = static_cast<Eigen::Index>(block.offset + i);
        e[index] = 1;
        trace += hvp(e)[index];
        e[index] = 0;
    }
    return trace;
}

}  // namespace quantlens

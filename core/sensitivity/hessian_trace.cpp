#include "sensitivity/hessian_trace.hpp"

#include <cmath>
#include <random>

#include "util/error.hpp"

namespace quantlens {

namespace {

// The sample count and the standard error of the mean.
TraceEstimate finish(TraceEstimate& estimate, const std::vector<double>& samples) {
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

}  // namespace

BlockHessianProduct on_block(HessianVectorProduct hvp, std::size_t parameters, const ParameterBlock& block) {
    return [hvp = std::move(hvp), parameters, block](const Eigen::VectorXd& v) {
        Eigen::VectorXd whole = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(parameters));
        whole.segment(static_cast<Eigen::Index>(block.offset), static_cast<Eigen::Index>(block.size)) = v;
        return Eigen::VectorXd(hvp(whole).segment(static_cast<Eigen::Index>(block.offset),
                                                  static_cast<Eigen::Index>(block.size)));
    };
}

TraceEstimate hutchinson_trace(const BlockHessianProduct& hvp, const ParameterBlock& block,
                               const HutchinsonOptions& options, const CancelToken* cancel) {
    std::mt19937_64 rng(options.seed ^ (0x9E3779B97F4A7C15ULL * (block.offset + 1)));
    std::bernoulli_distribution coin(0.5);
    std::vector<double> samples;
    double previous_mean = 0;
    TraceEstimate estimate;
    for (int k = 0; k < options.max_samples; ++k) {
        if (cancel)
            cancel->throw_if_cancelled();
        Eigen::VectorXd v(static_cast<Eigen::Index>(block.size));
        for (std::size_t i = 0; i < block.size; ++i)
            v[static_cast<Eigen::Index>(i)] = coin(rng) ? 1.0 : -1.0;
        samples.push_back(v.dot(hvp(v)));
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
    return finish(estimate, samples);
}

std::vector<TraceEstimate> hutchinson_joint(const JointSample& sample, std::size_t blocks,
                                            const HutchinsonOptions& options, const CancelToken* cancel) {
    std::vector<std::vector<double>> samples(blocks);
    std::vector<TraceEstimate> estimates(blocks);
    std::vector<double> previous(blocks, 0.0);
    for (int k = 0; k < options.max_samples; ++k) {
        if (cancel)
            cancel->throw_if_cancelled();
        const auto values = sample(k);
        if (values.size() != blocks)
            throw Error("", "Hutchinson",
                        std::to_string(values.size()) + " samples for " + std::to_string(blocks) + " layers");
        bool settled = k + 1 >= std::max(options.min_samples, 2);
        for (std::size_t b = 0; b < blocks; ++b) {
            samples[b].push_back(values[b]);
            double mean = 0;
            for (double s : samples[b])
                mean += s;
            mean /= static_cast<double>(samples[b].size());
            settled = settled &&
                      std::fabs(mean - previous[b]) / (std::fabs(previous[b]) + 1e-6) < options.tolerance;
            previous[b] = mean;
            estimates[b].trace = mean;
        }
        if (settled)
            break;
    }
    for (std::size_t b = 0; b < blocks; ++b)
        finish(estimates[b], samples[b]);
    return estimates;
}

double exact_block_trace(const BlockHessianProduct& hvp, const ParameterBlock& block,
                         const CancelToken* cancel) {
    double trace = 0;
    Eigen::VectorXd e = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(block.size));
    for (Eigen::Index i = 0; i < e.size(); ++i) {
        if (cancel)
            cancel->throw_if_cancelled();
        e[i] = 1;
        trace += hvp(e)[i];
        e[i] = 0;
    }
    return trace;
}

}  // namespace quantlens

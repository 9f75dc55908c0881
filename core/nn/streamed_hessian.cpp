#include "nn/streamed_hessian.hpp"

#include <random>

#include "util/error.hpp"

namespace quantlens::nn {

namespace {

bool in_block(const ParameterSlot& slot, const ParameterBlock& block) {
    return slot.offset >= block.offset && slot.offset + slot.size <= block.offset + block.size;
}

}  // namespace

Eigen::VectorXd slot_rademacher(std::uint64_t seed, std::size_t offset, std::size_t size) {
    std::mt19937_64 random(seed ^ (0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(offset) + 1)));
    Eigen::VectorXd v(static_cast<Eigen::Index>(size));
    std::uint64_t bits = 0;
    for (Eigen::Index i = 0; i < v.size(); ++i) {
        if (i % 64 == 0)
            bits = random();  // 64 signs a draw
        v[i] = (bits >> (i % 64)) & 1 ? 1.0 : -1.0;
    }
    return v;
}

StreamedHessian::StreamedHessian(const Model& model, const Graph& graph, const Matrix<double>& x,
                                 const std::vector<std::int64_t>& labels, const CancelToken* cancel)
    : graph_(graph), values_(model, graph), duals_(model, graph), x_(x.cast<Dual>()), labels_(labels) {
    const auto logits = values_.forward(x, {}, cancel, &checkpoints_);
    loss_ = objective(graph_, logits, x, labels_);
}

void StreamedHessian::product(std::size_t start, const ParameterHooks<Dual>& hooks,
                              const CancelToken* cancel) const {
    const auto& from = checkpoints_[start];
    std::vector<Checkpoint<Dual>> checkpoints;
    const auto logits =
        duals_.resume(x_, {from.node, from.value, from.output.cast<Dual>()}, hooks, {}, cancel, &checkpoints);
    Matrix<Dual> gradient;
    objective(graph_, logits, x_, labels_, &gradient);
    for (std::size_t j = checkpoints.size(); j-- > 0;) {
        if (cancel)
            cancel->throw_if_cancelled();
        const auto& at = checkpoints[j];
        const bool last = j + 1 == checkpoints.size();
        const auto segment =
            duals_.backward(x_, at, last ? static_cast<int>(graph_.nodes.size()) : checkpoints[j + 1].node,
                            last ? graph_.output : checkpoints[j + 1].value, std::move(gradient), hooks);
        if (at.value >= 0)
            gradient = segment.gradients[static_cast<std::size_t>(at.value)];
    }
}

Eigen::VectorXd StreamedHessian::operator()(const ParameterBlock& block, const Eigen::VectorXd& v,
                                            const CancelToken* cancel) const {
    if (static_cast<std::size_t>(v.size()) != block.size)
        throw Error("", "Hessian-vector product",
                    std::to_string(v.size()) + " values for a block of " + std::to_string(block.size));
    const int first = first_reader(graph_, block.offset, block.size);
    if (first == static_cast<int>(graph_.nodes.size()))
        throw Error("", "Hessian-vector product", "no node reads the block of layer \"" + block.layer + "\"");
    std::size_t start = checkpoints_.size() - 1;  // the last checkpoint before the block's first reader
    while (checkpoints_[start].node > first)
        --start;
    const auto part = [&](const ParameterSlot& slot) {
        return v.segment(static_cast<Eigen::Index>(slot.offset - block.offset),
                         static_cast<Eigen::Index>(slot.size));
    };
    Eigen::VectorXd hv = Eigen::VectorXd::Zero(v.size());
    ParameterHooks<Dual> hooks;
    hooks.adjust = [&](const ParameterSlot& slot, Eigen::Ref<Vector<Dual>> values) {  // θ + εv
        if (in_block(slot, block))
            dual_plane(values, 1) = part(slot);
    };
    hooks.collect = [&](const ParameterSlot& slot, const Eigen::Ref<const Vector<Dual>>& gradient) {
        if (in_block(slot, block))  // ∇L + ε·Hv: the tangents
            hv.segment(static_cast<Eigen::Index>(slot.offset - block.offset),
                       static_cast<Eigen::Index>(slot.size)) += dual_plane(gradient, 1);
    };
    product(start, hooks, cancel);
    return hv;
}

std::vector<double> StreamedHessian::joint(std::uint64_t seed, const std::vector<ParameterBlock>& blocks,
                                           const CancelToken* cancel) const {
    std::vector<double> samples(blocks.size(), 0.0);
    const auto block_of = [&](const ParameterSlot& slot) -> std::ptrdiff_t {
        for (std::size_t b = 0; b < blocks.size(); ++b)
            if (in_block(slot, blocks[b]))
                return static_cast<std::ptrdiff_t>(b);
        return -1;
    };
    ParameterHooks<Dual> hooks;
    hooks.adjust = [&](const ParameterSlot& slot, Eigen::Ref<Vector<Dual>> values) {
        if (block_of(slot) >= 0)
            dual_plane(values, 1) = slot_rademacher(seed, slot.offset, slot.size);
    };
    hooks.collect = [&](const ParameterSlot& slot, const Eigen::Ref<const Vector<Dual>>& gradient) {
        if (const auto b = block_of(slot); b >= 0)
            samples[static_cast<std::size_t>(b)] +=
                slot_rademacher(seed, slot.offset, slot.size).dot(dual_plane(gradient, 1).col(0));
    };
    product(0, hooks, cancel);
    return samples;
}

}  // namespace quantlens::nn

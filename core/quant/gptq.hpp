#pragma once
// GPTQ (Frantar et al., ICLR 2023; docs/formats.md §11): quantize a linear layer column by
// column, pushing each column's rounding error onto the columns not yet quantized through
// the inverse Hessian of the layer's reconstruction loss, H = 2XᵀX/N.
// Groups: without act-order a group's scales are chosen when the loop reaches its first
// column, from the already-updated weights (as the paper does). With act-order, columns are
// visited by descending diag(H) and the group scales are fixed beforehand from the original
// weights ("static groups", as GPTQModel offers), so each group stays a contiguous run of
// its row and the stored layout is the same as round-to-nearest's.
#include <Eigen/Dense>

#include <numeric>

#include "quant/scaled_grid.hpp"
#include "util/error.hpp"

namespace quantlens {

struct GptqHessian {
    Eigen::MatrixXf inverse_upper;  // U, upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), in visiting order
    std::vector<std::int64_t> order;  // visiting order: order[i] = original column
    std::vector<bool> dead;           // columns never activated (H_ii = 0): weights set to 0
};

GptqHessian prepare_gptq(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions& options);

template <class Grid>
void gptq_quantize(const Grid& grid, ScaleRule rule, const WeightMatrix& w, const QuantSpec& spec,
                   const QuantOptions& options, std::int64_t group, QuantResult& out) {
    const auto hessian = prepare_gptq(w, spec, options);
    const Eigen::Index rows = w.rows, cols = w.cols;
    using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMatrix original = Eigen::Map<const RowMatrix>(w.values.data(), rows, cols);
    for (Eigen::Index c = 0; c < cols; ++c)
        if (hessian.dead[static_cast<std::size_t>(c)])
            original.col(c).setZero();
    RowMatrix work(rows, cols);  // columns in visiting order
    for (Eigen::Index i = 0; i < cols; ++i)
        work.col(i) = original.col(hessian.order[static_cast<std::size_t>(i)]);

    const WeightMatrix original_view{{original.data(), static_cast<std::size_t>(rows * cols)}, rows, cols};
    const auto spans = group_spans(original_view, spec.granularity, group);
    const std::int64_t groups_per_row =
        spec.granularity == Granularity::Group ? (cols + group - 1) / group : 1;
    std::vector<GroupSetup<Grid>> setups(spans.size(), GroupSetup<Grid>{grid, 1.0f, 0});
    auto group_index = [&](Eigen::Index r, std::int64_t column) -> std::size_t {
        if (spec.granularity == Granularity::Tensor)
            return 0;
        if (spec.granularity == Granularity::Channel)
            return static_cast<std::size_t>(r);
        return static_cast<std::size_t>(r * groups_per_row + column / group);
    };
    const bool lazy_groups = spec.granularity == Granularity::Group && !spec.act_order;
    if (!lazy_groups)
        for (std::size_t g = 0; g < spans.size(); ++g)
            setups[g] = setup_group(grid, rule, spec, original.data() + spans[g].first,
                                    spans[g].second - spans[g].first);

    out.codes.resize(static_cast<std::size_t>(rows * cols));  // every element is written below
    out.dequantized.resize(static_cast<std::size_t>(rows * cols));
    std::vector<float> group_values;
    constexpr Eigen::Index kBlock = 128;
    std::uint64_t unused_state = 0;
    for (Eigen::Index start = 0; start < cols; start += kBlock) {
        if (options.cancel)
            options.cancel->throw_if_cancelled();
        const Eigen::Index end = std::min(cols, start + kBlock);
        RowMatrix errors(rows, end - start);
        for (Eigen::Index i = start; i < end; ++i) {
            const std::int64_t column = hessian.order[static_cast<std::size_t>(i)];
            if (lazy_groups && column % group == 0) {  // without act-order, visiting order = column order
                const Eigen::Index width = std::min<Eigen::Index>(group, cols - column);
                group_values.resize(static_cast<std::size_t>(width));
                for (Eigen::Index r = 0; r < rows; ++r) {
                    for (Eigen::Index k = 0; k < width; ++k)
                        group_values[static_cast<std::size_t>(k)] = work(r, i + k);
                    setups[group_index(r, column)] =
                        setup_group(grid, rule, spec, group_values.data(), group_values.size());
                }
            }
            const float diagonal = hessian.inverse_upper(i, i);
            for (Eigen::Index r = 0; r < rows; ++r) {
                const auto& setup = setups[group_index(r, column)];
                const float level = round_level(setup.grid, work(r, i) * reciprocal_of_scale(setup.scale),
                                                Rounding::Nearest, unused_state);
                const float value = level * setup.scale;
                const std::size_t at = static_cast<std::size_t>(r * cols + column);
                out.codes[at] = setup.grid.code(level) + setup.zero;
                out.dequantized[at] = value;
                errors(r, i - start) = (work(r, i) - value) / diagonal;
            }
            if (i + 1 < end)
                work.block(0, i + 1, rows, end - i - 1).noalias() -=
                    errors.col(i - start) * hessian.inverse_upper.block(i, i + 1, 1, end - i - 1);
        }
        if (end < cols)
            work.rightCols(cols - end).noalias() -=
                errors * hessian.inverse_upper.block(start, end, end - start, cols - end);
    }
    out.scales.resize(setups.size());
    if (!spec.symmetric)
        out.zero_points.resize(setups.size());
    for (std::size_t g = 0; g < setups.size(); ++g) {
        out.scales[g] = setups[g].scale;
        if (!spec.symmetric)
            out.zero_points[g] = setups[g].zero;
    }
    out.group_elements =
        spans.empty() ? 0 : static_cast<std::int64_t>(spans.front().second - spans.front().first);
}

}  // namespace quantlens

// Scaled-grid quantizers: value = level × scale, with one scale per tensor, per output
// channel, or per group of G consecutive input elements of a row. Every group is therefore a
// contiguous run of the row-major matrix; a row whose length is not a multiple of G ends in
// a shorter group with its own scale, computed from its own values.
// Asymmetric integers are the same thing with a per-group grid: level q − z ∈ [−z, qmax − z].
#include "quant/scaled_grid.hpp"

#include <cfloat>
#include <mutex>

#include "quant/gptq.hpp"
#include "quant/metrics_kernels.hpp"
#include "stats/histogram_kernels.hpp"
#include "tensor/convert.hpp"
#include "util/parallel.hpp"

namespace quantlens {

float stored_scale(float scale, ScaleStorage storage) {
    switch (storage) {
        // A zero scale stays zero (a group of zeros); a positive one stays positive, finite and
        // at least the smallest normal float, 2^-126, so its reciprocal is finite too: a group
        // of subnormals (below 2^-126 · grid max) rounds to multiples of 2^-126, mostly zero.
        case ScaleStorage::F32: return scale > 0 ? std::max(scale, FLT_MIN) : 0.0f;
        case ScaleStorage::F16: {  // nearest f16, kept positive and finite
            if (!(scale > 0))
                return 0.0f;
            float stored = f16_to_f32(f32_to_f16(scale));
            if (!std::isfinite(stored))
                return 65504.0f;
            return stored > 0 ? stored : std::ldexp(1.0f, -24);
        }
        case ScaleStorage::BF16: {
            if (!(scale > 0))
                return 0.0f;
            float stored = bf16_to_f32(f32_to_bf16(scale));
            return std::isfinite(stored) ? std::max(stored, FLT_MIN) : std::numeric_limits<float>::max();
        }
        case ScaleStorage::E8M0: {  // up to a power of two, so storing never clips a value
            int exponent = std::ilogb(scale);
            if (std::ldexp(1.0f, exponent) < scale)
                ++exponent;
            return std::ldexp(1.0f, std::clamp(exponent, -127, 127));
        }
    }
    return scale;
}

namespace {

// Error sums measured while quantizing, combined in group order.
void record_sums(const std::vector<ErrorSums>& sums, std::size_t n, QuantResult& out) {
    ErrorSums total{0, 0, 0, 0, 0, INFINITY, -INFINITY};
    for (const auto& part : sums)
        total = combine(total, part);
    out.metrics = metrics_from_sums(total, n);
    out.metrics_measured = true;
}

float parallel_absmax(std::span<const float> values) {
    float absmax = 0;
    std::mutex lock;
    parallel_for(values.size(), 1 << 20, [&](std::size_t begin, std::size_t end) {
        auto range = finite_range(values.data() + begin, nullptr, end - begin);
        std::lock_guard guard(lock);
        absmax = std::max({absmax, std::fabs(range.low), std::fabs(range.high)});
    });
    return absmax;
}

template <class Grid>
void quantize_groups(const Grid& grid, ScaleRule rule, const WeightMatrix& w, const QuantSpec& spec,
                     bool keep_codes, std::int64_t group, QuantResult& out) {
    const auto spans = group_spans(w, spec.granularity, group);
    const std::size_t n = w.values.size();
    out.scales.assign(spans.size(), 0);
    if (!spec.symmetric)
        out.zero_points.assign(spans.size(), 0);
    out.codes.resize(keep_codes ? n : 0);  // every element is written below
    out.dequantized.resize(n);
    const std::size_t per_group = spans.empty() ? 1 : spans.front().second - spans.front().first;
    if (spans.size() == 1 && spec.rounding == Rounding::Nearest) {
        // One group (per-tensor scale): choose the scale once, then split the elements. A plain
        // min-max scale takes its range from a parallel pass.
        auto setup =
            spec.clip == ClipMethod::MinMax && rule == ScaleRule::AbsMax && spec.symmetric
                ? GroupSetup<Grid>{grid,
                                   scale_from_range(parallel_absmax(w.values), grid.max_value(), rule, spec),
                                   0}
                : setup_group(grid, rule, spec, w.values.data(), n);
        out.scales[0] = setup.scale;
        if (!spec.symmetric)
            out.zero_points[0] = setup.zero;
        const float inverse = reciprocal_of_scale(setup.scale);
        // Fixed blocks (not per-thread ranges) so the error sums do not depend on threads.
        constexpr std::size_t kBlock = std::size_t{1} << 16;
        std::vector<ErrorSums> block_sums((n + kBlock - 1) / kBlock);
        parallel_for(block_sums.size(), 4, [&](std::size_t first, std::size_t last) {
            const auto grid_copy = setup.grid;
            const float scale = setup.scale;
            const std::int32_t zero = setup.zero;
            const float* x = w.values.data();
            std::int32_t* codes = out.codes.data();
            float* values = out.dequantized.data();
            for (std::size_t b = first; b < last; ++b) {
                const std::size_t begin = b * kBlock, end = std::min(n, begin + kBlock);
                if (keep_codes)
                    quantize_run<true>(grid_copy, x, inverse, scale, zero, begin, end, codes, values);
                else
                    quantize_run<false>(grid_copy, x, inverse, scale, zero, begin, end, codes, values);
                block_sums[b] = error_sums(x + begin, values + begin, end - begin);  // still in cache
            }
        });
        record_sums(block_sums, n, out);
        out.group_elements = static_cast<std::int64_t>(n);
        return;
    }
    std::vector<ErrorSums> group_sums(spec.rounding == Rounding::Nearest ? spans.size() : 0);
    parallel_for(
        spans.size(), std::max<std::size_t>(1, (1u << 16) / per_group),
        [&](std::size_t first, std::size_t last) {
            for (std::size_t g = first; g < last; ++g) {
                const auto [begin, end] = spans[g];
                auto setup = setup_group(grid, rule, spec, w.values.data() + begin, end - begin);
                out.scales[g] = setup.scale;
                if (!spec.symmetric)
                    out.zero_points[g] = setup.zero;
                const float inverse = reciprocal_of_scale(setup.scale);
                if (spec.rounding == Rounding::Stochastic) {
                    std::uint64_t state = stochastic_state(spec.seed, g);
                    for (std::size_t i = begin; i < end; ++i) {
                        float level = round_level(setup.grid, w.values[i] * inverse, spec.rounding, state);
                        if (keep_codes)
                            out.codes[i] = setup.grid.code(level) + setup.zero;
                        out.dequantized[i] = level * setup.scale;
                    }
                    continue;
                }
                const auto grid_copy = setup.grid;  // a local the compiler can keep in registers
                const float scale = setup.scale;
                const std::int32_t zero = setup.zero;
                const float* x = w.values.data();
                std::int32_t* codes = out.codes.data();
                float* values = out.dequantized.data();
                if (keep_codes)
                    quantize_run<true>(grid_copy, x, inverse, scale, zero, begin, end, codes, values);
                else
                    quantize_run<false>(grid_copy, x, inverse, scale, zero, begin, end, codes, values);
                group_sums[g] =
                    error_sums(x + begin, values + begin, end - begin);  // the group is still in cache
            }
        });
    if (!group_sums.empty())
        record_sums(group_sums, n, out);
    out.group_elements = static_cast<std::int64_t>(per_group);
}

template <class Grid>
void run(const Grid& grid, ScaleRule rule, const WeightMatrix& w, const QuantSpec& spec,
         const QuantOptions& options, std::int64_t group, QuantResult& out) {
    if (spec.rounding == Rounding::Gptq)
        gptq_quantize(grid, rule, w, spec, options, group, out);
    else
        quantize_groups(grid, rule, w, spec, options.codes, group, out);
    // The levels of the first group, in weight units, for drawing over histograms.
    const float scale = out.scales.empty() ? 1.0f : out.scales.front();
    const float zero = out.zero_points.empty() ? 0.0f : static_cast<float>(out.zero_points.front());
    for (float level : grid.levels())
        out.levels.push_back((level - (spec.symmetric ? 0.0f : zero)) * scale);
}

// PyTorch's full-range symmetric integers: codes −2^(b−1) … 2^(b−1) − 1 with
// scale = absmax / ((qmax − qmin) / 2) = absmax / (2^(b−1) − 0.5).
struct FullRangeIntGrid : IntGrid {
    float max_value() const { return qmax + 0.5f; }
};

class ScaledGridFamily final : public QuantizerFamily {
public:
    bool handles(QuantFormat f) const override {
        switch (f) {
            case QuantFormat::Int:
            case QuantFormat::Fp8E4M3:
            case QuantFormat::Fp8E5M2:
            case QuantFormat::Fp6E3M2:
            case QuantFormat::Fp6E2M3:
            case QuantFormat::Fp4E2M1:
            case QuantFormat::NF4:
            case QuantFormat::Log2:
            case QuantFormat::Ternary:
            case QuantFormat::Binary: return true;
            default: return false;
        }
    }

    void quantize(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions& options,
                  QuantResult& out) const override {
        const std::int64_t group =
            spec.granularity == Granularity::Tensor    ? std::max<std::int64_t>(1, w.rows * w.cols)
            : spec.granularity == Granularity::Channel ? std::max<std::int64_t>(1, w.cols)
                                                       : spec.group_size;
        switch (spec.format) {
            case QuantFormat::Int: {
                const float half = static_cast<float>(1 << (spec.bits - 1));
                if (!spec.symmetric)
                    return run(IntGrid{0, static_cast<float>((1 << spec.bits) - 1)}, ScaleRule::AbsMax, w,
                               spec, options, group, out);
                if (spec.full_range)
                    return run(FullRangeIntGrid{{-half, half - 1}}, ScaleRule::AbsMax, w, spec, options,
                               group, out);
                return run(IntGrid{-(half - 1), half - 1}, ScaleRule::AbsMax, w, spec, options, group, out);
            }
            case QuantFormat::NF4: return run(nf4_grid(), ScaleRule::AbsMax, w, spec, options, group, out);
            case QuantFormat::Log2:
                return run(log2_grid(spec.bits), ScaleRule::PowerOfTwo, w, spec, options, group, out);
            case QuantFormat::Ternary:
                return run(IntGrid{-1, 1}, ScaleRule::AbsMean, w, spec, options, group, out);
            case QuantFormat::Binary:
                return run(BinaryGrid{}, ScaleRule::AbsMean, w, spec, options, group, out);
            default: return run(minifloat_grid(spec.format), ScaleRule::AbsMax, w, spec, options, group, out);
        }
    }
};

}  // namespace

const QuantizerFamily& scaled_grid_family() {
    static const ScaledGridFamily family;
    return family;
}

}  // namespace quantlens

#include "quant/quantizer.hpp"

#include <atomic>
#include <algorithm>
#include <cmath>

#include "quant/quantizer_family.hpp"
#include "quant/metrics_kernels.hpp"
#include "quant/transforms.hpp"
#include "stats/input_rotation.hpp"
#include "stats/histogram_kernels.hpp"
#include "tensor/dtype.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

const QuantizerFamily& family_for(QuantFormat format) {
    for (const QuantizerFamily* family :
         {&scaled_grid_family(), &microscaling_family(), &ggml_family(), &cast_family()})
        if (family->handles(format))
            return *family;
    throw std::logic_error("no quantizer family for the format");
}

void count_bits(const QuantSpec& spec, QuantResult& out) {
    const auto n = static_cast<double>(out.dequantized.size());
    auto& m = out.metrics;
    m.scales = out.scales.size();
    m.zero_points = out.zero_points.size();
    double bits;
    if (!out.blocks.empty())
        bits = static_cast<double>(out.blocks.size()) * 8;  // ggml: the bytes themselves
    else
        bits = n * spec.element_bits() + static_cast<double>(m.scales) * spec.scale_bits() +
               static_cast<double>(m.zero_points) * spec.bits;
    if (spec.format == QuantFormat::NvFp4)
        bits += 32;  // the FP32 per-tensor scale
    m.bits_per_weight = n > 0 ? bits / n : 0;
    m.size_bytes = static_cast<std::uint64_t>(std::ceil(bits / 8));
}

}  // namespace

WeightMatrix as_matrix(std::span<const float> values, const std::vector<std::int64_t>& shape) {
    WeightMatrix w{values, 1, static_cast<std::int64_t>(values.size())};
    if (shape.size() >= 2) {
        w.rows = shape[0];
        w.cols = shape[0] > 0 ? static_cast<std::int64_t>(values.size()) / shape[0] : 0;
    }
    return w;
}

QuantMetrics error_metrics(std::span<const float> original, std::span<const float> approximation) {
    // Per chunk of 64 Ki elements, chunks combined in order: the result does not depend on
    // the number of threads (nor, see metrics_kernels, on the SIMD path).
    constexpr std::size_t kChunk = std::size_t{1} << 16;
    const std::size_t chunks = (original.size() + kChunk - 1) / kChunk;
    std::vector<ErrorSums> partial(chunks);
    parallel_for(chunks, 4, [&](std::size_t first, std::size_t last) {
        for (std::size_t c = first; c < last; ++c) {
            const std::size_t begin = c * kChunk, end = std::min(original.size(), begin + kChunk);
            partial[c] = error_sums(original.data() + begin, approximation.data() + begin, end - begin);
        }
    });
    ErrorSums total{0, 0, 0, 0, 0, INFINITY, -INFINITY};
    for (const auto& sums : partial)
        total = combine(total, sums);
    return metrics_from_sums(total, original.size());
}

QuantMetrics metrics_from_sums(const ErrorSums& sums, std::size_t count) {
    QuantMetrics m;
    const double n = static_cast<double>(std::max<std::size_t>(count, 1));
    m.mse = sums.noise / n;
    m.rmse = std::sqrt(m.mse);
    m.sqnr_db = sums.noise > 0 ? 10 * std::log10(sums.signal / sums.noise) : INFINITY;
    m.cosine = sums.signal > 0 && sums.energy > 0 ? sums.dot / std::sqrt(sums.signal * sums.energy)
                                                  : (sums.signal == sums.energy ? 1.0 : 0.0);
    m.max_abs_error = sums.worst;
    m.min_error = count ? sums.low : 0;
    m.max_error = count ? sums.high : 0;
    return m;
}

QuantResult quantize(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options) {
    QuantResult result;
    quantize_into(weights, spec, options, result);
    return result;
}

namespace {

// Finite weights in, finite values out: a quantizer whose scale overflows its storage (a Q4_0
// block's half-precision d beyond 65504, say) must say so rather than report inf or NaN as a
// result. Checked on the metrics (one pass already made); the scan runs only on failure.
void refuse_non_finite(const WeightMatrix& weights, const QuantSpec& spec, const QuantResult& out) {
    if (std::isfinite(out.metrics.mse) && std::isfinite(out.metrics.max_abs_error))
        return;
    std::size_t count = 0, first = out.dequantized.size();
    for (std::size_t i = 0; i < out.dequantized.size(); ++i)
        if (!std::isfinite(out.dequantized[i])) {
            first = std::min(first, i);
            ++count;
        }
    const auto cols = static_cast<std::size_t>(std::max<std::int64_t>(weights.cols, 1));
    const std::string where = count ? std::to_string(count) + " of them, the first at row " +
                                          std::to_string(first / cols) + ", column " +
                                          std::to_string(first % cols)
                                    : "the error overflows";
    throw NonFiniteResult(
        "", "spec \"" + spec.to_string() + "\"",
        "turns these finite weights into non-finite values (" + where +
            "): a scale overflows what its storage holds (half-precision scales stop at 65504)");
}

double importance_weighted_mse(const WeightMatrix& weights, std::span<const float> approximation,
                               std::span<const float> importance) {
    if (importance.size() != static_cast<std::size_t>(weights.cols))
        throw Error("", "importance",
                    std::to_string(importance.size()) + " entries for rows of " +
                        std::to_string(weights.cols) + " values");
    const auto cols = static_cast<std::size_t>(weights.cols);
    std::vector<double> per_row(static_cast<std::size_t>(weights.rows));
    parallel_for(per_row.size(), 16, [&](std::size_t first, std::size_t last) {
        for (std::size_t r = first; r < last; ++r) {
            double sum = 0;
            for (std::size_t c = 0; c < cols; ++c) {
                const double e =
                    static_cast<double>(approximation[r * cols + c]) - weights.values[r * cols + c];
                sum += importance[c] * e * e;
            }
            per_row[r] = sum;
        }
    });
    double total = 0;
    for (double v : per_row)  // in row order: the result does not depend on the threads
        total += v;
    return weights.values.empty() ? 0.0 : total / static_cast<double>(weights.values.size());
}

Histogram weights_histogram(std::span<const float> values, std::size_t bins, float low, float high) {
    if (!(low <= high))
        return histogram(values, bins);
    if (low == high) {
        low -= 0.5f;
        high += 0.5f;
    }
    return histogram(values, bins, low, high, 0);
}
}  // namespace

void quantize_into(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options,
                   QuantResult& out) {
    if (weights.rows < 0 || weights.cols < 0 ||
        static_cast<std::uint64_t>(weights.rows * weights.cols) != weights.values.size())
        throw std::invalid_argument("quantize: rows × cols does not match the values");
    // One pass finds non-finite weights (refused) and the weights' range (for their histogram).
    const std::size_t n = weights.values.size();
    constexpr std::size_t kChunk = std::size_t{1} << 20;
    std::vector<FiniteRange> ranges((n + kChunk - 1) / kChunk);
    parallel_for(ranges.size(), 1, [&](std::size_t first, std::size_t last) {
        for (std::size_t c = first; c < last; ++c)
            ranges[c] = finite_range(weights.values.data() + c * kChunk, nullptr,
                                     std::min(n, (c + 1) * kChunk) - c * kChunk);
    });
    float low = INFINITY, high = -INFINITY;
    for (const auto& range : ranges) {
        if (range.non_finite)
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(weights.values[i]))
                    throw Error(
                        "", "weights",
                        "value " + std::to_string(i) + " is not finite; quantizers need finite weights");
        low = std::min(low, range.low);
        high = std::max(high, range.high);
    }
    if (spec.granularity == Granularity::Group && spec.group_size <= 0)
        throw Error("", "spec \"" + spec.to_string() + "\"", "group size must be positive");

    // Keep the big buffers' storage; every other field starts afresh.
    std::vector<float> dequantized = std::move(out.dequantized);
    std::vector<std::int32_t> codes = std::move(out.codes);
    out = QuantResult{};
    out.dequantized = std::move(dequantized);  // families resize these and write every element
    out.codes = std::move(codes);
    out.spec = spec;
    out.rows = weights.rows;
    out.cols = weights.cols;
    WeightMatrix working = weights;

    // Transforms act on the input dimension (the columns); they are undone after quantizing
    // so the error is measured in the weight's own basis.
    std::unique_ptr<InputRotation> rotation;
    std::vector<float> smoothing;
    if (spec.smooth_alpha >= 0 || spec.rotation == Rotation::Hadamard) {
        out.transformed.assign(weights.values.begin(), weights.values.end());
        if (spec.smooth_alpha >= 0) {
            if (!options.inputs)
                throw Error(
                    "", "spec \"" + spec.to_string() + "\"",
                    "smooth=alpha needs calibration inputs of the layer for per-channel activation ranges");
            smoothing = smoothing_scales(weights, *options.inputs, spec.smooth_alpha);
            for (std::int64_t r = 0; r < weights.rows; ++r)
                for (std::int64_t c = 0; c < weights.cols; ++c)
                    out.transformed[static_cast<std::size_t>(r * weights.cols + c)] *=
                        smoothing[static_cast<std::size_t>(c)];
        }
        if (spec.rotation == Rotation::Hadamard) {
            rotation = std::make_unique<InputRotation>(weights.cols, spec.rotation_seed);
            parallel_for(
                static_cast<std::size_t>(weights.rows), 64, [&](std::size_t first, std::size_t last) {
                    for (std::size_t r = first; r < last; ++r)
                        rotation->rotate({out.transformed.data() + r * static_cast<std::size_t>(weights.cols),
                                          static_cast<std::size_t>(weights.cols)});
                });
        }
        // Rotating weights near FLT_MAX can overflow (a sum of ±3e38 terms): refused here, by
        // position, before a quantizer sees inf or NaN.
        const auto bad = std::find_if(out.transformed.begin(), out.transformed.end(),
                                      [](float v) { return !std::isfinite(v); });
        if (bad != out.transformed.end()) {
            const auto at = static_cast<std::size_t>(bad - out.transformed.begin());
            const auto cols = static_cast<std::size_t>(std::max<std::int64_t>(weights.cols, 1));
            throw NonFiniteResult("", "spec \"" + spec.to_string() + "\"",
                                  std::string(spec.rotation == Rotation::Hadamard ? "the Hadamard rotation"
                                                                                  : "the smoothing scales") +
                                      " overflows float32 on these weights (row " +
                                      std::to_string(at / cols) + ", column " + std::to_string(at % cols) +
                                      ")");
        }
        working.values = out.transformed;
    }

    const QuantizerFamily& family = family_for(spec.format);
    QuantOptions family_options = options;
    std::vector<float> smoothed_importance;
    if (!options.importance.empty() && family.uses_importance() && !out.transformed.empty()) {
        if (rotation)
            throw Error("", "spec \"" + spec.to_string() + "\"",
                        "rot=hadamard mixes the input columns, so a per-column importance matrix no longer "
                        "describes them (drop rot= or the importance matrix)");
        // W·x = (W·s)(x/s): the smoothed weight's column c meets inputs x_c/s_c, whose mean
        // square is imp_c/s_c².
        smoothed_importance.assign(options.importance.begin(), options.importance.end());
        for (std::size_t c = 0; c < smoothed_importance.size() && c < smoothing.size(); ++c)
            smoothed_importance[c] /= smoothing[c] * smoothing[c];
        family_options.importance = smoothed_importance;
    }
    family.quantize(working, spec, family_options, out);

    if (rotation)
        parallel_for(static_cast<std::size_t>(weights.rows), 64, [&](std::size_t first, std::size_t last) {
            for (std::size_t r = first; r < last; ++r)
                rotation->rotate_back({out.dequantized.data() + r * static_cast<std::size_t>(weights.cols),
                                       static_cast<std::size_t>(weights.cols)});
        });
    if (!smoothing.empty())
        for (std::int64_t r = 0; r < weights.rows; ++r)
            for (std::int64_t c = 0; c < weights.cols; ++c)
                out.dequantized[static_cast<std::size_t>(r * weights.cols + c)] /=
                    smoothing[static_cast<std::size_t>(c)];

    if (!out.metrics_measured || !out.transformed.empty())
        out.metrics = error_metrics(weights.values, out.dequantized);
    refuse_non_finite(weights, spec, out);
    if (!options.importance.empty())
        out.metrics.importance_mse = importance_weighted_mse(weights, out.dequantized, options.importance);
    count_bits(spec, out);
    float error_low = out.metrics.min_error, error_high = out.metrics.max_error;
    if (error_low == error_high) {
        error_low -= 0.5f;
        error_high += 0.5f;
    }  // as histogram() does for one value
    if (options.error_histogram)
        out.error_histogram = histogram_of_difference(weights.values, out.dequantized, options.histogram_bins,
                                                      error_low, error_high, 0);
    if (options.weight_histogram)
        out.weight_histogram = weights_histogram(weights.values, options.histogram_bins, low, high);
}

}  // namespace quantlens

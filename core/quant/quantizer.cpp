#include "quant/quantizer.hpp"

#include <atomic>
#include <cmath>

#include "quant/quantizer_family.hpp"
#include "quant/transforms.hpp"
#include "tensor/dtype.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

const QuantizerFamily& family_for(QuantFormat format) {
    for (const QuantizerFamily* family : {&scaled_grid_family(), &microscaling_family(), &ggml_family(), &cast_family()})
        if (family->handles(format)) return *family;
    throw std::logic_error("no quantizer family for the format");
}

void count_bits(const QuantSpec& spec, QuantResult& out) {
    const auto n = static_cast<double>(out.dequantized.size());
    auto& m = out.metrics;
    m.scales = out.scales.size();
    m.zero_points = out.zero_points.size();
    double bits;
    if (!out.blocks.empty()) bits = static_cast<double>(out.blocks.size()) * 8;  // ggml: the bytes themselves
    else bits = n * spec.element_bits() + static_cast<double>(m.scales) * spec.scale_bits() + static_cast<double>(m.zero_points) * spec.bits;
    if (spec.format == QuantFormat::NvFp4) bits += 32;  // the FP32 per-tensor scale
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
    // float64 sums per chunk of 64 Ki elements, chunks added in order: the result does not
    // depend on the number of threads.
    constexpr std::size_t kChunk = std::size_t{1} << 16;
    const std::size_t chunks = (original.size() + kChunk - 1) / kChunk;
    struct Sums { double signal = 0, noise = 0, dot = 0, energy = 0, worst = 0; };
    std::vector<Sums> partial(chunks);
    parallel_for(chunks, 4, [&](std::size_t first, std::size_t last) {
        for (std::size_t c = first; c < last; ++c) {
            Sums sums;
            const std::size_t end = std::min(original.size(), (c + 1) * kChunk);
            for (std::size_t i = c * kChunk; i < end; ++i) {
                const double x = original[i], y = approximation[i], e = y - x;
                sums.signal += x * x;
                sums.energy += y * y;
                sums.noise += e * e;
                sums.dot += x * y;
                sums.worst = std::max(sums.worst, std::fabs(e));
            }
            partial[c] = sums;
        }
    });
    double signal = 0, noise = 0, dot = 0, energy = 0, worst = 0;
    for (const auto& sums : partial) {
        signal += sums.signal;
        noise += sums.noise;
        dot += sums.dot;
        energy += sums.energy;
        worst = std::max(worst, sums.worst);
    }
    QuantMetrics m;
    const double n = static_cast<double>(std::max<std::size_t>(original.size(), 1));
    m.mse = noise / n;
    m.rmse = std::sqrt(m.mse);
    m.sqnr_db = noise > 0 ? 10 * std::log10(signal / noise) : INFINITY;
    m.cosine = signal > 0 && energy > 0 ? dot / std::sqrt(signal * energy) : (signal == energy ? 1.0 : 0.0);
    m.max_abs_error = worst;
    return m;
}

QuantResult quantize(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options) {
    QuantResult result;
    quantize_into(weights, spec, options, result);
    return result;
}

void quantize_into(const WeightMatrix& weights, const QuantSpec& spec, const QuantOptions& options, QuantResult& out) {
    if (weights.rows < 0 || weights.cols < 0 || static_cast<std::uint64_t>(weights.rows * weights.cols) != weights.values.size())
        throw std::invalid_argument("quantize: rows × cols does not match the values");
    std::atomic<std::size_t> first_bad{weights.values.size()};
    parallel_for(weights.values.size(), 1 << 20, [&](std::size_t begin, std::size_t end) {
        bool finite = true;
        for (std::size_t i = begin; i < end; ++i) finite &= std::isfinite(weights.values[i]);
        if (finite) return;
        for (std::size_t i = begin; i < end; ++i)
            if (!std::isfinite(weights.values[i])) {
                std::size_t current = first_bad.load();
                while (i < current && !first_bad.compare_exchange_weak(current, i)) {}
                return;
            }
    });
    if (first_bad.load() < weights.values.size())
        throw Error("", "weights", "value " + std::to_string(first_bad.load()) + " is not finite; quantizers need finite weights");
    if (spec.granularity == Granularity::Group && spec.group_size <= 0) throw Error("", "spec \"" + spec.to_string() + "\"", "group size must be positive");

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
            if (!options.inputs) throw Error("", "spec \"" + spec.to_string() + "\"", "smooth=alpha needs calibration inputs of the layer for per-channel activation ranges");
            smoothing = smoothing_scales(weights, *options.inputs, spec.smooth_alpha);
            for (std::int64_t r = 0; r < weights.rows; ++r)
                for (std::int64_t c = 0; c < weights.cols; ++c) out.transformed[static_cast<std::size_t>(r * weights.cols + c)] *= smoothing[static_cast<std::size_t>(c)];
        }
        if (spec.rotation == Rotation::Hadamard) {
            rotation = std::make_unique<InputRotation>(weights.cols, spec.rotation_seed);
            parallel_for(static_cast<std::size_t>(weights.rows), 64, [&](std::size_t first, std::size_t last) {
                for (std::size_t r = first; r < last; ++r) rotation->rotate({out.transformed.data() + r * static_cast<std::size_t>(weights.cols), static_cast<std::size_t>(weights.cols)});
            });
        }
        working.values = out.transformed;
    }

    family_for(spec.format).quantize(working, spec, options, out);

    if (rotation)
        parallel_for(static_cast<std::size_t>(weights.rows), 64, [&](std::size_t first, std::size_t last) {
            for (std::size_t r = first; r < last; ++r) rotation->rotate_back({out.dequantized.data() + r * static_cast<std::size_t>(weights.cols), static_cast<std::size_t>(weights.cols)});
        });
    if (!smoothing.empty())
        for (std::int64_t r = 0; r < weights.rows; ++r)
            for (std::int64_t c = 0; c < weights.cols; ++c) out.dequantized[static_cast<std::size_t>(r * weights.cols + c)] /= smoothing[static_cast<std::size_t>(c)];

    out.metrics = error_metrics(weights.values, out.dequantized);
    count_bits(spec, out);
    out.error_histogram = histogram_of_difference(weights.values, out.dequantized, options.histogram_bins);
}

}  // namespace quantlens

// OCP Microscaling v1.0 (docs/formats.md §4) and NVIDIA's NVFP4.
// MX: blocks of 32 consecutive elements of a row share X = 2^E, stored as E8M0, with
// E = floor(log2(max|V|)) − emax_elem clamped to [−127, 127] (an all-zero block takes the
// smallest scale); elements are V/X rounded to nearest-even and saturated to the element
// format. MXINT8 elements are int8 × 2^−6, clamped symmetrically to ±127/64 as Microsoft's
// MX reference library does (so a block's maximum can never round past a power of two and
// re-quantizing is stable). A row whose length is not a multiple of 32 ends
// in a shorter block with its own scale.
// NVFP4: E2M1 elements in blocks of 16, each block scale an FP8 E4M3 value, times one FP32
// per-tensor scale g = max|W| / (6 · 448): block scale = E4M3(max|block| / 6 / g).
#include <bit>
#include <limits>
#include <cmath>
#include <cstdint>

#include "quant/element_grid.hpp"
#include "quant/quantizer_family.hpp"
#include "quant/scaled_grid.hpp"
#include "tensor/convert.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

int element_emax(QuantFormat format) {  // docs/formats.md §4 table
    switch (format) {
        case QuantFormat::MxFp8E4M3: return 8;
        case QuantFormat::MxFp8E5M2: return 15;
        case QuantFormat::MxFp6E3M2: return 4;
        case QuantFormat::MxFp6E2M3: return 2;
        case QuantFormat::MxFp4: return 2;
        default: return 0;  // MXINT8
    }
}

// MXINT8's element grid, in the element's own units: int8 / 64, within ±127/64.
struct MxInt8Grid {
    float max_value() const { return 127.0f / 64; }
    float nearest(float x) const {
        return round_half_even(std::clamp(x * 64, -127.0f, 127.0f)) / 64;
    }  // clamped first: within RNE's range
    float floor_level(float x) const { return std::clamp(std::floor(x * 64), -127.0f, 127.0f) / 64; }
    float ceil_level(float x) const { return std::clamp(std::ceil(x * 64), -127.0f, 127.0f) / 64; }
    std::int32_t code(float level) const { return static_cast<std::int32_t>(level * 64); }
    std::pair<float, std::int32_t> quantize(float x) const {
        float level = nearest(x);
        return {level, code(level)};
    }
    std::vector<float> levels() const {
        std::vector<float> values;
        for (int q = -127; q <= 127; ++q)
            values.push_back(static_cast<float>(q) / 64);
        return values;
    }
};

// BlockScale is a functor so the per-block call inlines; the element loops are the scaled
// grids' (quantize_run), with no branch on keep_codes inside them.
template <class Grid, class BlockScale>
void quantize_blocks(const Grid& grid, const WeightMatrix& w, std::int64_t block, bool keep_codes,
                     QuantResult& out, BlockScale block_scale) {
    const auto spans = group_spans(w, Granularity::Group, block);
    const std::size_t n = w.values.size();
    out.scales.assign(spans.size(), 0);
    out.codes.resize(keep_codes ? n : 0);  // every element is written below
    out.dequantized.resize(n);
    parallel_for(spans.size(), 2048, [&](std::size_t first, std::size_t last) {
        const float* x = w.values.data();
        std::int32_t* codes = out.codes.data();
        float* values = out.dequantized.data();
        for (std::size_t g = first; g < last; ++g) {
            const auto [begin, end] = spans[g];
            const float block_max = absmax_of(x + begin, end - begin);
            const float scale = block_scale(block_max);
            out.scales[g] = scale;
            const float inverse = scale > 0 ? 1.0f / scale : 0.0f;
            if (!std::isfinite(inverse)) {  // an NVFP4 scale below 2^-128: x / scale stays on the grid
                for (std::size_t i = begin; i < end; ++i) {
                    const auto [level, code] = grid.quantize(x[i] / scale);
                    if (keep_codes)
                        codes[i] = code;
                    values[i] = level * scale;
                }
                continue;
            }
            if (keep_codes)
                quantize_run<true>(grid, x, inverse, scale, 0, begin, end, codes, values);
            else
                quantize_run<false>(grid, x, inverse, scale, 0, begin, end, codes, values);
        }
    });
    out.group_elements =
        spans.empty() ? 0 : static_cast<std::int64_t>(spans.front().second - spans.front().first);
    const float first = out.scales.empty() ? 1.0f : out.scales.front();
    for (float level : grid.levels())
        out.levels.push_back(level * first);
}

class MicroscalingFamily final : public QuantizerFamily {
public:
    bool handles(QuantFormat f) const override {
        switch (f) {
            case QuantFormat::MxFp8E4M3:
            case QuantFormat::MxFp8E5M2:
            case QuantFormat::MxFp6E3M2:
            case QuantFormat::MxFp6E2M3:
            case QuantFormat::MxFp4:
            case QuantFormat::MxInt8:
            case QuantFormat::NvFp4: return true;
            default: return false;
        }
    }

    void quantize(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions& options,
                  QuantResult& out) const override {
        if (spec.format == QuantFormat::NvFp4) {
            float tensor_max = 0;
            for (float v : w.values)
                tensor_max = std::max(tensor_max, std::fabs(v));
            // A tensor of subnormals can underflow g to 0; the smallest positive g keeps it finite.
            const float global = tensor_max > 0 ? std::max(tensor_max / (6.0f * 448.0f),
                                                           std::numeric_limits<float>::denorm_min())
                                                : 1.0f;
            out.tensor_scale = global;
            return quantize_blocks(
                minifloat_grid(QuantFormat::Fp4E2M1), w, 16, options.codes, out, [global](float block_max) {
                    return f8_e4m3_to_f32(f32_to_f8_e4m3(block_max / 6.0f / global)) * global;
                });
        }
        const int emax = element_emax(spec.format);
        auto shared_scale = [emax](float block_max) {  // 2^(floor(log2 max) − emax), on the bits (a libm call
                                                       // per block costs more than its elements)
            const std::uint32_t bits = std::bit_cast<std::uint32_t>(block_max);
            const int biased = static_cast<int>(bits >> 23);  // block_max >= 0
            const int exponent =
                block_max > 0 ? (biased > 0 ? biased - 127 : std::ilogb(block_max)) - emax : -127;
            const int clamped = std::clamp(exponent, -127, 127);
            return clamped >= -126 ? std::bit_cast<float>(static_cast<std::uint32_t>(clamped + 127) << 23)
                                   : std::ldexp(1.0f, clamped);
        };
        if (spec.format == QuantFormat::MxInt8)
            return quantize_blocks(MxInt8Grid{}, w, 32, options.codes, out, shared_scale);
        quantize_blocks(minifloat_grid(spec.format), w, 32, options.codes, out, shared_scale);
    }
};

}  // namespace

const QuantizerFamily& microscaling_family() {
    static const MicroscalingFamily family;
    return family;
}

}  // namespace quantlens

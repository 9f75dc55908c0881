#include "quant/ggml_quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include "quant/ggml_iquants.hpp"
#include "quant/ggml_kquants.hpp"
#include "quant/quantizer_family.hpp"
#include "tensor/convert.hpp"
#include "tensor/ggml_block_types.hpp"
#include "tensor/ggml_blocks.hpp"
#include "util/error.hpp"
#include "util/cpu_features.hpp"
#include "util/parallel.hpp"

namespace quantlens::simd {
void q8_0_blocks_avx2(const float* x, std::uint8_t* y, std::size_t blocks);
void q4_0_blocks_avx2(const float* x, std::uint8_t* y, std::size_t blocks);
}  // namespace quantlens::simd

namespace quantlens {

namespace {

using namespace ggml;
constexpr int kQK = static_cast<int>(kBlockValues);

Half half(float value) {
    return f32_to_f16(value);
}

// C's float-to-small-integer casts as ggml's x86-64 build performs them: truncation to int32
// (cvttss2si, which gives INT32_MIN for NaN and anything outside int32), then the low 8 bits.
// Written out because the cast itself is undefined for such values: a block whose scale
// underflows to a subnormal has 1/d = inf, and inf · 0 = NaN (its stored d is 0, so the codes
// decode to zeros whatever they are).
std::uint32_t c_trunc_int32_bits(float v) {
    const bool fits = v >= -2147483648.0f && v < 2147483648.0f;  // false for NaN
    return static_cast<std::uint32_t>(fits ? static_cast<std::int32_t>(v) : INT32_MIN);
}
std::int8_t c_to_int8(float v) {
    return static_cast<std::int8_t>(static_cast<std::uint8_t>(c_trunc_int32_bits(v) & 0xFF));
}
std::uint8_t c_to_uint8(float v) {
    return static_cast<std::uint8_t>(c_trunc_int32_bits(v) & 0xFF);
}

// Q8_0: d = absmax/127, q = round(x/d) (C roundf, half away from zero).
BlockQ8_0 q8_0_block(const float* x) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j)
        amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ8_0 y;
    y.d = half(d);
    for (int j = 0; j < kQK; ++j)
        y.qs[j] = c_to_int8(std::roundf(x[j] * id));
    return y;
}

// The element of largest magnitude, sign kept (the first one on ties).
float signed_max(const float* x) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j)
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    return max;
}

// Q4_0: d = signed max / −8, q = min(15, trunc(x/d + 8.5)).
BlockQ4_0 q4_0_block(const float* x) {
    const float d = signed_max(x) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ4_0 y;
    y.d = half(d);
    for (int j = 0; j < kQK / 2; ++j) {
        const auto q0 = std::min<std::int8_t>(15, c_to_int8(x[j] * id + 8.5f));
        const auto q1 = std::min<std::int8_t>(15, c_to_int8(x[j + kQK / 2] * id + 8.5f));
        y.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
    return y;
}

// The {d, m} header of Q4_1 and Q5_1: m = min, d = (max − min) / top code.
// Returns {min, 1/d} for the elements.
template <class Block>
std::pair<float, float> min_scale(const float* x, float top_code, Block& y) {
    float min = x[0], max = x[0];
    for (int j = 1; j < kQK; ++j) {
        min = std::min(min, x[j]);
        max = std::max(max, x[j]);
    }
    const float d = (max - min) / top_code;
    y.d = half(d);
    y.m = half(min);
    return {min, d != 0 ? 1.0f / d : 0.0f};
}

// Q4_1: q = min(15, trunc((x − m)/d + 0.5)).
BlockQ4_1 q4_1_block(const float* x) {
    BlockQ4_1 y;
    const auto [min, id] = min_scale(x, 15, y);
    for (int j = 0; j < kQK / 2; ++j) {
        const auto q0 = std::min<std::int8_t>(15, c_to_int8((x[j] - min) * id + 0.5f));
        const auto q1 = std::min<std::int8_t>(15, c_to_int8((x[j + kQK / 2] - min) * id + 0.5f));
        y.qs[j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
    return y;
}

// 5-bit codes packed as the Q5 blocks hold them (low nibbles as Q4, bit 4 in qh).
template <class Block>
void pack5(const std::uint8_t* q, Block& y) {
    std::uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
        y.qs[j] = static_cast<std::uint8_t>((q[j] & 0x0F) | ((q[j + kQK / 2] & 0x0F) << 4));
        qh |= static_cast<std::uint32_t>((q[j] & 0x10) >> 4) << j;
        qh |= static_cast<std::uint32_t>((q[j + kQK / 2] & 0x10) >> 4) << (j + kQK / 2);
    }
    std::memcpy(y.qh, &qh, 4);
}

// Q5_0: d = signed max / −16, q = min(31, trunc(x/d + 16.5)).
BlockQ5_0 q5_0_block(const float* x) {
    const float d = signed_max(x) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockQ5_0 y;
    y.d = half(d);
    std::uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j)
        q[j] = static_cast<std::uint8_t>(std::min<std::int8_t>(31, c_to_int8(x[j] * id + 16.5f)));
    pack5(q, y);
    return y;
}

// Q5_1: q = trunc((x − m)/d + 0.5).
BlockQ5_1 q5_1_block(const float* x) {
    BlockQ5_1 y;
    const auto [min, id] = min_scale(x, 31, y);
    std::uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j)
        q[j] = c_to_uint8((x[j] - min) * id + 0.5f);
    pack5(q, y);
    return y;
}

// Quantizes blocks [first, last) of x into out, one block function for one type.
template <auto BlockFunction>
void quantize_blocks(const float* x, std::uint8_t* out, std::size_t first, std::size_t last) {
    for (std::size_t b = first; b < last; ++b)
        store_block(BlockFunction(x + b * kBlockValues), out, b);
}

using RowFunction = void (*)(const float*, std::uint8_t*, std::size_t, std::size_t);

// The legacy 32-value types' reference quantizers, or null for the super-block types.
RowFunction row_function(DType type) {
    switch (type) {
        case DType::Q8_0: return quantize_blocks<q8_0_block>;
        case DType::Q4_0: return quantize_blocks<q4_0_block>;
        case DType::Q4_1: return quantize_blocks<q4_1_block>;
        case DType::Q5_0: return quantize_blocks<q5_0_block>;
        case DType::Q5_1: return quantize_blocks<q5_1_block>;
        default:
            if (ggml::quantizes_superblocks(type))
                return nullptr;
            throw std::invalid_argument("quantize_ggml_row: " + std::string(dtype_name(type)) +
                                        " is not a ggml type QuantLens writes");
    }
}

struct FormatType {
    QuantFormat format;
    DType type;
};
constexpr FormatType kFormatTypes[] = {
    {QuantFormat::Q8_0, DType::Q8_0},       {QuantFormat::Q4_0, DType::Q4_0},
    {QuantFormat::Q4_1, DType::Q4_1},       {QuantFormat::Q5_0, DType::Q5_0},
    {QuantFormat::Q5_1, DType::Q5_1},       {QuantFormat::Q2_K, DType::Q2_K},
    {QuantFormat::Q3_K, DType::Q3_K},       {QuantFormat::Q4_K, DType::Q4_K},
    {QuantFormat::Q5_K, DType::Q5_K},       {QuantFormat::Q6_K, DType::Q6_K},
    {QuantFormat::IQ4_NL, DType::IQ4_NL},   {QuantFormat::IQ4_XS, DType::IQ4_XS},
    {QuantFormat::TQ1_0, DType::TQ1_0},     {QuantFormat::TQ2_0, DType::TQ2_0},
    {QuantFormat::IQ2_XXS, DType::IQ2_XXS}, {QuantFormat::IQ2_XS, DType::IQ2_XS},
    {QuantFormat::IQ2_S, DType::IQ2_S},     {QuantFormat::IQ3_XXS, DType::IQ3_XXS},
    {QuantFormat::IQ3_S, DType::IQ3_S},     {QuantFormat::IQ1_S, DType::IQ1_S},
    {QuantFormat::IQ1_M, DType::IQ1_M},
};

const FormatType* format_type(QuantFormat format) {
    for (const auto& entry : kFormatTypes)
        if (entry.format == format)
            return &entry;
    return nullptr;
}

class GgmlFamily final : public QuantizerFamily {
public:
    bool handles(QuantFormat f) const override { return format_type(f) != nullptr; }
    bool uses_importance() const override { return true; }
    void quantize(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions& options,
                  QuantResult& out) const override {
        const DType type = format_type(spec.format)->type;
        const auto& info = dtype_info(type);
        const auto block = static_cast<std::int64_t>(info.block_elements);
        if (w.cols % block != 0)
            throw Error("", "spec \"" + spec.to_string() + "\"",
                        "ggml " + std::string(info.name) + " needs rows whose length is a multiple of " +
                            std::to_string(block) + "; this weight's rows hold " + std::to_string(w.cols) +
                            " values");
        if (ggml::requires_importance(type) && options.importance.empty())
            throw Error("", "spec \"" + spec.to_string() + "\"",
                        "ggml writes " + std::string(info.name) +
                            " only with an importance matrix (llama-quantize refuses it without one): load "
                            "one covering this layer (--imatrix FILE, or File ▸ Load Importance Matrix), or "
                            "choose iq2_s, iq3_xxs or iq1_m, which work without");
        if (!options.importance.empty() && options.importance.size() != static_cast<std::size_t>(w.cols))
            throw Error("", "spec \"" + spec.to_string() + "\"",
                        "the importance matrix has " + std::to_string(options.importance.size()) +
                            " entries for rows of " + std::to_string(w.cols) + " values");
        out.codes.clear();  // the blocks hold the codes
        const std::size_t blocks = w.values.size() / static_cast<std::size_t>(block);
        out.blocks.resize(blocks * info.block_bytes);
        quantize_ggml_rows(type, w.values, static_cast<std::size_t>(w.cols), options.importance, out.blocks);
        out.dequantized.resize(w.values.size());
        dequantize_blocks(type, {reinterpret_cast<const std::byte*>(out.blocks.data()), out.blocks.size()},
                          out.dequantized);
        out.scales.resize(blocks);
        for (std::size_t b = 0; b < blocks; ++b)
            out.scales[b] = ggml::block_scale(type, out.blocks.data() + b * info.block_bytes);
        out.group_elements = block;
        out.levels = ggml::quantizes_superblocks(type) ? ggml::first_group_levels(type, out.blocks.data())
                                                       : first_block_levels(type, out.blocks);
    }

private:
    // The values the first block's codes can take, as the dequantizer forms them: d·(q − offset)
    // for the symmetric types, d·q + m for Q4_1 and Q5_1 (whose second half is m). Q8_0's codes
    // run −127 … 127: the reference quantizer never writes −128.
    static std::vector<float> first_block_levels(DType type, const std::vector<std::uint8_t>& blocks) {
        if (blocks.size() < 2 * sizeof(Half))
            return {};
        Half bits[2];
        std::memcpy(bits, blocks.data(), sizeof bits);
        const float d = f16_to_f32(bits[0]), m = f16_to_f32(bits[1]);
        const bool with_min = type == DType::Q4_1 || type == DType::Q5_1;
        const int codes = type == DType::Q8_0 ? 255 : type == DType::Q5_0 || type == DType::Q5_1 ? 32 : 16;
        const int offset = type == DType::Q8_0 ? 127 : with_min ? 0 : codes / 2;
        std::vector<float> levels;
        levels.reserve(static_cast<std::size_t>(codes));
        for (int q = 0; q < codes; ++q)
            levels.push_back(with_min ? static_cast<float>(q) * d + m : static_cast<float>(q - offset) * d);
        return levels;
    }
};

}  // namespace

void quantize_ggml_row_reference(DType type, std::span<const float> x, std::span<std::uint8_t> out) {
    if (const auto function = row_function(type))
        return function(x.data(), out.data(), 0, x.size() / kQK);
    const ggml::PlainSearchScope plain;
    ggml::quantize_rows_weighted(type, x.data(), x.size(), x.size(), nullptr, out.data());
}

void quantize_ggml_row_single_thread(DType type, std::span<const float> x, std::span<std::uint8_t> out) {
    const std::size_t blocks = x.size() / kQK;
    if (cpu_has_avx2() && type == DType::Q8_0)
        return simd::q8_0_blocks_avx2(x.data(), out.data(), blocks);
    if (cpu_has_avx2() && type == DType::Q4_0)
        return simd::q4_0_blocks_avx2(x.data(), out.data(), blocks);
    if (const auto function = row_function(type))
        return function(x.data(), out.data(), 0, blocks);
    ggml::quantize_rows_weighted(type, x.data(), x.size(), x.size(), nullptr, out.data());
}

void quantize_ggml_row(DType type, std::span<const float> x, std::span<std::uint8_t> out) {
    quantize_ggml_rows(type, x, x.size(), {}, out);
}

void quantize_ggml_rows(DType type, std::span<const float> x, std::size_t n_per_row,
                        std::span<const float> importance, std::span<std::uint8_t> out) {
    row_function(type);  // rejects types QuantLens does not write
    if (x.empty())       // an empty tensor: nothing to write (as before rows had a length)
        return;
    const auto& info = dtype_info(type);
    const std::size_t block = info.block_elements, bytes = info.block_bytes;
    if (n_per_row == 0 || n_per_row % block != 0 || x.size() % n_per_row != 0 ||
        out.size() != x.size() / block * bytes || (!importance.empty() && importance.size() != n_per_row))
        throw std::invalid_argument("quantize_ggml_rows: sizes do not fit the block type");
    const bool by_blocks = importance.empty()
                               ? !ggml::is_grid_iquant(type)
                               : type == DType::Q8_0 || type == DType::TQ1_0 || type == DType::TQ2_0;
    if (by_blocks) {
        // Every block stands alone: split by blocks.
        parallel_for(x.size() / block, 1 << 14 >> (block == kSuperBlockValues ? 3 : 0),
                     [&](std::size_t first, std::size_t last) {
                         quantize_ggml_row_single_thread(type,
                                                         x.subspan(first * block, (last - first) * block),
                                                         out.subspan(first * bytes, (last - first) * bytes));
                     });
        return;
    }
    // Weighted: the legacy types' σ² spans a whole row, so split by rows (the grid i-quants too,
    // so that their errors can name the row).
    const std::size_t row_bytes = n_per_row / block * bytes;
    const float* weights = importance.empty() ? nullptr : importance.data();
    parallel_for(x.size() / n_per_row, 1, [&](std::size_t first, std::size_t last) {
        ggml::quantize_rows_weighted(type, x.data() + first * n_per_row, (last - first) * n_per_row,
                                     n_per_row, weights, out.data() + first * row_bytes, first);
    });
}

const QuantizerFamily& ggml_family() {
    static const GgmlFamily family;
    return family;
}

}  // namespace quantlens

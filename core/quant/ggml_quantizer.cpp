#include "quant/ggml_quantizer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "quant/quantizer_family.hpp"
#include "tensor/convert.hpp"
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

constexpr int kQK = 32;

void put_half(std::uint8_t* out, float value) {
    std::uint16_t bits = f32_to_f16(value);
    std::memcpy(out, &bits, 2);
}

// block_q8_0 {half d; int8 qs[32]}
void q8_0_block(const float* x, std::uint8_t* y) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    put_half(y, d);
    for (int j = 0; j < kQK; ++j) y[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::roundf(x[j] * id)));
}

// The element of largest magnitude, sign kept (the first one on ties).
float signed_max(const float* x) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK; ++j)
        if (amax < std::fabs(x[j])) { amax = std::fabs(x[j]); max = x[j]; }
    return max;
}

// block_q4_0 {half d; u8 qs[16]}: element j in the low nibble of qs[j], j+16 in the high one.
void q4_0_block(const float* x, std::uint8_t* y) {
    const float d = signed_max(x) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    put_half(y, d);
    for (int j = 0; j < kQK / 2; ++j) {
        const auto q0 = std::min<std::int8_t>(15, static_cast<std::int8_t>(x[j] * id + 8.5f));
        const auto q1 = std::min<std::int8_t>(15, static_cast<std::int8_t>(x[j + kQK / 2] * id + 8.5f));
        y[2 + j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
}

// The {half d; half m} header of Q4_1 and Q5_1: m = min, d = (max − min) / top code.
// Returns {min, 1/d} for the elements.
std::pair<float, float> write_min_scale(const float* x, float top_code, std::uint8_t* y) {
    float min = x[0], max = x[0];
    for (int j = 1; j < kQK; ++j) { min = std::min(min, x[j]); max = std::max(max, x[j]); }
    const float d = (max - min) / top_code;
    put_half(y, d);
    put_half(y + 2, min);
    return {min, d != 0 ? 1.0f / d : 0.0f};
}

// block_q4_1 {half d; half m; u8 qs[16]}
void q4_1_block(const float* x, std::uint8_t* y) {
    const auto [min, id] = write_min_scale(x, 15, y);
    for (int j = 0; j < kQK / 2; ++j) {
        const auto q0 = std::min<std::int8_t>(15, static_cast<std::int8_t>((x[j] - min) * id + 0.5f));
        const auto q1 = std::min<std::int8_t>(15, static_cast<std::int8_t>((x[j + kQK / 2] - min) * id + 0.5f));
        y[4 + j] = static_cast<std::uint8_t>(q0 | (q1 << 4));
    }
}

// 5-bit packing: low nibbles as Q4, bit 4 of element j at bit j of the little-endian qh.
void pack5(const std::uint8_t* q, std::uint8_t* qh_out, std::uint8_t* qs) {
    std::uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
        qs[j] = static_cast<std::uint8_t>((q[j] & 0x0F) | ((q[j + kQK / 2] & 0x0F) << 4));
        qh |= static_cast<std::uint32_t>((q[j] & 0x10) >> 4) << j;
        qh |= static_cast<std::uint32_t>((q[j + kQK / 2] & 0x10) >> 4) << (j + kQK / 2);
    }
    std::memcpy(qh_out, &qh, 4);
}

// block_q5_0 {half d; u8 qh[4]; u8 qs[16]}
void q5_0_block(const float* x, std::uint8_t* y) {
    const float d = signed_max(x) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    put_half(y, d);
    std::uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<std::uint8_t>(std::min<std::int8_t>(31, static_cast<std::int8_t>(x[j] * id + 16.5f)));
    pack5(q, y + 2, y + 6);
}

// block_q5_1 {half d; half m; u8 qh[4]; u8 qs[16]}
void q5_1_block(const float* x, std::uint8_t* y) {
    const auto [min, id] = write_min_scale(x, 31, y);
    std::uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = static_cast<std::uint8_t>((x[j] - min) * id + 0.5f);
    pack5(q, y + 4, y + 8);
}

using BlockFunction = void (*)(const float*, std::uint8_t*);

BlockFunction block_function(DType type) {
    switch (type) {
        case DType::Q8_0: return q8_0_block;
        case DType::Q4_0: return q4_0_block;
        case DType::Q4_1: return q4_1_block;
        case DType::Q5_0: return q5_0_block;
        case DType::Q5_1: return q5_1_block;
        default: throw std::invalid_argument("quantize_ggml_row: QuantLens writes Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1");
    }
}

DType dtype_of(QuantFormat format) {
    switch (format) {
        case QuantFormat::Q8_0: return DType::Q8_0;
        case QuantFormat::Q4_0: return DType::Q4_0;
        case QuantFormat::Q4_1: return DType::Q4_1;
        case QuantFormat::Q5_0: return DType::Q5_0;
        default: return DType::Q5_1;
    }
}

class GgmlFamily final : public QuantizerFamily {
public:
    bool handles(QuantFormat f) const override {
        return f == QuantFormat::Q8_0 || f == QuantFormat::Q4_0 || f == QuantFormat::Q4_1 || f == QuantFormat::Q5_0 || f == QuantFormat::Q5_1;
    }
    void quantize(const WeightMatrix& w, const QuantSpec& spec, const QuantOptions&, QuantResult& out) const override {
        if (w.cols % kQK != 0)
            throw Error("", "spec \"" + spec.to_string() + "\"", "ggml block types need rows whose length is a multiple of 32; this weight's rows hold " + std::to_string(w.cols) + " values");
        const DType type = dtype_of(spec.format);
        const auto& info = dtype_info(type);
        out.codes.clear();  // the blocks hold the codes
        out.blocks.resize(w.values.size() / kQK * info.block_bytes);
        quantize_ggml_row(type, w.values, out.blocks);
        out.dequantized.resize(w.values.size());
        dequantize_blocks(type, {reinterpret_cast<const std::byte*>(out.blocks.data()), out.blocks.size()}, out.dequantized);
        out.scales.resize(w.values.size() / kQK);
        for (std::size_t b = 0; b < out.scales.size(); ++b) {
            std::uint16_t bits;
            std::memcpy(&bits, out.blocks.data() + b * info.block_bytes, 2);
            out.scales[b] = f16_to_f32(bits);
        }
        out.group_elements = kQK;
    }
};

}  // namespace

void quantize_ggml_row_reference(DType type, std::span<const float> x, std::span<std::uint8_t> out) {
    const BlockFunction block = block_function(type);
    const std::size_t bytes = dtype_info(type).block_bytes;
    for (std::size_t b = 0; b < x.size() / kQK; ++b) block(x.data() + b * kQK, out.data() + b * bytes);
}

void quantize_ggml_row_single_thread(DType type, std::span<const float> x, std::span<std::uint8_t> out) {
    const std::size_t blocks = x.size() / kQK;
    if (cpu_has_avx2() && type == DType::Q8_0) return simd::q8_0_blocks_avx2(x.data(), out.data(), blocks);
    if (cpu_has_avx2() && type == DType::Q4_0) return simd::q4_0_blocks_avx2(x.data(), out.data(), blocks);
    quantize_ggml_row_reference(type, x, out);
}

void quantize_ggml_row(DType type, std::span<const float> x, std::span<std::uint8_t> out) {
    block_function(type);  // rejects types QuantLens does not write
    const std::size_t bytes = dtype_info(type).block_bytes;
    parallel_for(x.size() / kQK, 1 << 14, [&](std::size_t first, std::size_t last) {
        quantize_ggml_row_single_thread(type, x.subspan(first * kQK, (last - first) * kQK), out.subspan(first * bytes, (last - first) * bytes));
    });
}

const QuantizerFamily& ggml_family() {
    static const GgmlFamily family;
    return family;
}

}  // namespace quantlens

#include "tensor/convert.hpp"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "tensor/ggml_blocks.hpp"
#include "util/cpu_features.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

template <class T>
T load(const std::byte* p) {
    T value;
    std::memcpy(&value, p, sizeof(T));
    return value;
}

// Decodes a minifloat with `mbits` mantissa bits and exponent `bias`; exponent field
// all-ones handling is done by the callers.
float minifloat_value(unsigned sign, unsigned exponent, unsigned mantissa, int mbits, int bias) {
    float magnitude = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), 1 - bias - mbits)
                                    : std::ldexp(static_cast<float>(mantissa | (1u << mbits)),
                                                 static_cast<int>(exponent) - bias - mbits);
    return sign ? -magnitude : magnitude;
}

}  // namespace

float f16_to_f32(std::uint16_t bits) {
    unsigned sign = bits >> 15, exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
    if (exponent == 0x1F) {
        if (mantissa)
            return std::numeric_limits<float>::quiet_NaN();
        return sign ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    }
    return minifloat_value(sign, exponent, mantissa, 10, 15);
}

float bf16_to_f32(std::uint16_t bits) {
    return std::bit_cast<float>(std::uint32_t{bits} << 16);
}

float f8_e4m3_to_f32(std::uint8_t bits) {
    unsigned sign = bits >> 7, exponent = (bits >> 3) & 0xF, mantissa = bits & 0x7;
    if (exponent == 0xF && mantissa == 0x7)
        return std::numeric_limits<float>::quiet_NaN();
    return minifloat_value(sign, exponent, mantissa, 3, 7);
}

float f8_e5m2_to_f32(std::uint8_t bits) {
    return f16_to_f32(static_cast<std::uint16_t>(bits << 8));
}

// FNUZ (onnx.proto; Graphcore's 8-bit formats): 0x80 is the one NaN, there are no infinities and
// no negative zero, and the exponent bias is one more than the FN formats' (8 and 16).
float f8_e4m3fnuz_to_f32(std::uint8_t bits) {
    if (bits == 0x80)
        return std::numeric_limits<float>::quiet_NaN();
    return minifloat_value(bits >> 7, (bits >> 3) & 0xF, bits & 0x7, 3, 8);
}

float f8_e5m2fnuz_to_f32(std::uint8_t bits) {
    if (bits == 0x80)
        return std::numeric_limits<float>::quiet_NaN();
    return minifloat_value(bits >> 7, (bits >> 2) & 0x1F, bits & 0x3, 2, 16);
}

std::uint16_t f32_to_f16(float value) {
    std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000);
    std::uint32_t abs = x & 0x7FFFFFFF;
    if (abs > 0x7F800000)
        return sign | 0x7E00;  // NaN (quiet)
    if (abs >= 0x477FF000)
        return sign | 0x7C00;  // rounds to >= 65520: inf
    if (abs < 0x38800000) {    // below 2^-14: subnormal or 0
        // value / 2^-24 rounded to nearest even, done exactly in float arithmetic
        float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // exact (power of two)
        return sign | static_cast<std::uint16_t>(std::nearbyint(scaled));
    }
    std::uint32_t mantissa = abs + 0xFFF + ((abs >> 13) & 1);  // round to nearest even
    return sign | static_cast<std::uint16_t>((mantissa - 0x38000000) >> 13);
}

std::uint16_t f32_to_bf16(float value) {
    std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    if ((x & 0x7FFFFFFF) > 0x7F800000)
        return static_cast<std::uint16_t>((x >> 16) | 0x40);
    x += 0x7FFF + ((x >> 16) & 1);
    return static_cast<std::uint16_t>(x >> 16);
}

namespace {

// Rounds |value| to the grid of a minifloat with `mbits` mantissa bits and minimum
// normal exponent `emin`, then packs it; returns the bits without sign, or ~0u when the
// rounded magnitude exceeds `max_value` (the caller decides: saturate or inf).
unsigned pack_minifloat(double magnitude, int mbits, int emin, int bias, double max_value) {
    if (magnitude == 0)
        return 0;
    int exponent = std::max(std::ilogb(magnitude), emin);
    double quantum = std::ldexp(1.0, exponent - mbits);
    double rounded = std::nearbyint(magnitude / quantum) * quantum;  // ties to even
    if (rounded > max_value)
        return ~0u;
    if (rounded < std::ldexp(1.0, emin))  // subnormal (or rounded to zero)
        return static_cast<unsigned>(rounded / std::ldexp(1.0, emin - mbits));
    exponent = std::ilogb(rounded);  // rounding may have carried into the next binade
    unsigned mantissa = static_cast<unsigned>(rounded / std::ldexp(1.0, exponent - mbits)) - (1u << mbits);
    return static_cast<unsigned>(exponent + bias) << mbits | mantissa;
}

}  // namespace

std::uint8_t f32_to_f8_e4m3(float value) {
    unsigned sign = std::signbit(value) ? 0x80 : 0;
    if (std::isnan(value))
        return static_cast<std::uint8_t>(sign | 0x7F);
    if (std::isinf(value))
        return static_cast<std::uint8_t>(sign | 0x7E);
    unsigned bits = pack_minifloat(std::fabs(static_cast<double>(value)), 3, -6, 7, 448.0);
    if (bits == ~0u)
        bits = 0x7E;  // saturate to 448
    return static_cast<std::uint8_t>(sign | bits);
}

std::uint8_t f32_to_f8_e5m2(float value) {
    unsigned sign = std::signbit(value) ? 0x80 : 0;
    if (std::isnan(value))
        return static_cast<std::uint8_t>(sign | 0x7E);
    if (std::isinf(value))
        return static_cast<std::uint8_t>(sign | 0x7C);
    unsigned bits = pack_minifloat(std::fabs(static_cast<double>(value)), 2, -14, 15, 57344.0);
    if (bits == ~0u)
        bits = 0x7C;  // inf
    return static_cast<std::uint8_t>(sign | bits);
}

namespace {

__attribute__((target("f16c,avx"))) void f16_block_f16c(const std::byte* in, float* out, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + 2 * i));
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(half));
    }
    for (; i < n; ++i)
        out[i] = f16_to_f32(load<std::uint16_t>(in + 2 * i));
}

void f16_block_scalar(const std::byte* in, float* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        out[i] = f16_to_f32(load<std::uint16_t>(in + 2 * i));
}

void bf16_block(const std::byte* in, float* out, std::size_t n) {
    const auto* src = reinterpret_cast<const unsigned char*>(in);
    auto* dst = reinterpret_cast<unsigned char*>(out);
    for (std::size_t i = 0; i < n; ++i) {  // a shift: the compiler vectorises this loop
        std::uint32_t bits = std::uint32_t{src[2 * i]} << 16 | std::uint32_t{src[2 * i + 1]} << 24;
        std::memcpy(dst + 4 * i, &bits, 4);
    }
}

bool has_f16c() {
    return cpu_has_f16c();
}

__attribute__((target("f16c,avx"))) void round_f16_f16c(float* values, std::size_t n) {
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i half = _mm256_cvtps_ph(_mm256_loadu_ps(values + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_ps(values + i, _mm256_cvtph_ps(half));
    }
    for (; i < n; ++i)
        values[i] = f16_to_f32(f32_to_f16(values[i]));
}

// 4-bit integers two to a byte, element 2k in the low nibble of byte k; I4 is two's complement.
template <class Out>
void decode_nibbles(DType type, std::span<const std::byte> bytes, Out* out, std::size_t n) {
    for (std::size_t i = 0; i < n && i / 2 < bytes.size(); ++i) {
        const unsigned nibble = (std::to_integer<unsigned>(bytes[i / 2]) >> (4 * (i % 2))) & 0xF;
        out[i] = static_cast<Out>(type == DType::I4 && nibble >= 8 ? static_cast<int>(nibble) - 16
                                                                   : static_cast<int>(nibble));
    }
}

template <class Out>
void decode_range(DType type, const std::byte* in, Out* out, std::size_t n) {
    switch (type) {
        case DType::F64:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<Out>(load<double>(in + 8 * i));
            return;
        case DType::F32:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = load<float>(in + 4 * i);
            return;
        case DType::F16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = f16_to_f32(load<std::uint16_t>(in + 2 * i));
            return;
        case DType::BF16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = bf16_to_f32(load<std::uint16_t>(in + 2 * i));
            return;
        case DType::F8_E4M3:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = f8_e4m3_to_f32(load<std::uint8_t>(in + i));
            return;
        case DType::F8_E5M2:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = f8_e5m2_to_f32(load<std::uint8_t>(in + i));
            return;
        case DType::F8_E4M3FNUZ:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = f8_e4m3fnuz_to_f32(load<std::uint8_t>(in + i));
            return;
        case DType::F8_E5M2FNUZ:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = f8_e5m2fnuz_to_f32(load<std::uint8_t>(in + i));
            return;
        case DType::I64:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<Out>(load<std::int64_t>(in + 8 * i));
            return;
        case DType::I32:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<Out>(load<std::int32_t>(in + 4 * i));
            return;
        case DType::I16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = load<std::int16_t>(in + 2 * i);
            return;
        case DType::I8:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = load<std::int8_t>(in + i);
            return;
        case DType::U64:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<Out>(load<std::uint64_t>(in + 8 * i));
            return;
        case DType::U32:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = static_cast<Out>(load<std::uint32_t>(in + 4 * i));
            return;
        case DType::U16:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = load<std::uint16_t>(in + 2 * i);
            return;
        case DType::U8:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = load<std::uint8_t>(in + i);
            return;
        case DType::BOOL:
            for (std::size_t i = 0; i < n; ++i)
                out[i] = load<std::uint8_t>(in + i) ? 1 : 0;
            return;
        default: break;
    }
    throw std::logic_error("decode_range: block type");
}

}  // namespace

void decode_to_f32(DType type, std::span<const std::byte> bytes, std::span<float> out) {
    const auto& info = dtype_info(type);
    const std::size_t n = out.size();
    if (type == DType::I4 || type == DType::U4) {
        decode_nibbles(type, bytes, out.data(), n);
        return;
    }
    if (info.is_block) {
        dequantize_blocks(type, bytes, out);
        return;
    }
    // Large tensors split over threads; 1 Mi elements per chunk amortises thread start.
    parallel_for(n, std::size_t{1} << 20, [&](std::size_t begin, std::size_t end) {
        const std::byte* in = bytes.data() + begin * info.block_bytes;
        float* dst = out.data() + begin;
        std::size_t count = end - begin;
        if (type == DType::F16)
            has_f16c() ? f16_block_f16c(in, dst, count) : f16_block_scalar(in, dst, count);
        else if (type == DType::BF16)
            bf16_block(in, dst, count);
        else if (type == DType::F32)
            std::memcpy(dst, in, count * 4);
        else
            decode_range(type, in, dst, count);
    });
}

void decode_to_f64(DType type, std::span<const std::byte> bytes, std::span<double> out) {
    const auto& info = dtype_info(type);
    if (type == DType::I4 || type == DType::U4) {
        decode_nibbles(type, bytes, out.data(), out.size());
        return;
    }
    if (info.is_block) {
        std::vector<float> tmp(out.size());
        dequantize_blocks(type, bytes, tmp);
        for (std::size_t i = 0; i < tmp.size(); ++i)
            out[i] = tmp[i];
        return;
    }
    decode_range(type, bytes.data(), out.data(), out.size());
}

namespace {
template <class Int>
Int saturate_round(float v) {
    if (std::isnan(v))
        return 0;
    double r = std::round(static_cast<double>(v));
    if (r <= static_cast<double>(std::numeric_limits<Int>::min()))
        return std::numeric_limits<Int>::min();
    if (r >= static_cast<double>(std::numeric_limits<Int>::max()))
        return std::numeric_limits<Int>::max();
    return static_cast<Int>(r);
}
template <class T>
void store_all(std::span<const float> values, std::span<std::byte> out, T (*convert)(float)) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        T v = convert(values[i]);
        std::memcpy(out.data() + i * sizeof(T), &v, sizeof(T));
    }
}
}  // namespace

void encode_from_f32(DType type, std::span<const float> values, std::span<std::byte> out) {
    switch (type) {
        case DType::F64:
            return store_all<double>(values, out, [](float v) { return static_cast<double>(v); });
        case DType::F32: std::memcpy(out.data(), values.data(), values.size() * 4); return;
        case DType::F16: return store_all<std::uint16_t>(values, out, f32_to_f16);
        case DType::BF16: return store_all<std::uint16_t>(values, out, f32_to_bf16);
        case DType::F8_E4M3: return store_all<std::uint8_t>(values, out, f32_to_f8_e4m3);
        case DType::F8_E5M2: return store_all<std::uint8_t>(values, out, f32_to_f8_e5m2);
        case DType::I64: return store_all<std::int64_t>(values, out, saturate_round<std::int64_t>);
        case DType::I32: return store_all<std::int32_t>(values, out, saturate_round<std::int32_t>);
        case DType::I16: return store_all<std::int16_t>(values, out, saturate_round<std::int16_t>);
        case DType::I8: return store_all<std::int8_t>(values, out, saturate_round<std::int8_t>);
        case DType::U64: return store_all<std::uint64_t>(values, out, saturate_round<std::uint64_t>);
        case DType::U32: return store_all<std::uint32_t>(values, out, saturate_round<std::uint32_t>);
        case DType::U16: return store_all<std::uint16_t>(values, out, saturate_round<std::uint16_t>);
        case DType::U8: return store_all<std::uint8_t>(values, out, saturate_round<std::uint8_t>);
        case DType::BOOL:
            return store_all<std::uint8_t>(values, out, [](float v) -> std::uint8_t { return v != 0; });
        default: break;
    }
    throw std::invalid_argument("encode_from_f32: " + std::string(dtype_name(type)) +
                                " is written by the quantizer module, not by a cast");
}

void round_through(DType type, std::span<float> values) {
    if (type == DType::F16) {
        if (has_f16c())
            return round_f16_f16c(values.data(), values.size());
        for (float& value : values)
            value = f16_to_f32(f32_to_f16(value));
    } else if (type == DType::BF16) {
        for (float& value : values)
            value = bf16_to_f32(f32_to_bf16(value));
    }
}

}  // namespace quantlens

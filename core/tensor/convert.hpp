#pragma once
// Exact conversions between the element formats and float32/float64.
// Narrowing conversions round to nearest, ties to even (IEEE 754 default).
#include <cstddef>
#include <cstdint>
#include <span>

#include "tensor/dtype.hpp"

namespace quantlens {

float f16_to_f32(std::uint16_t bits);
float bf16_to_f32(std::uint16_t bits);
float f8_e4m3_to_f32(std::uint8_t bits);  // OCP E4M3FN: no inf, S.1111.111 = NaN
float f8_e5m2_to_f32(std::uint8_t bits);  // IEEE-style inf/NaN
std::uint16_t f32_to_f16(float value);    // overflow -> inf, NaN stays NaN
std::uint16_t f32_to_bf16(float value);
// FP8 casts, round to nearest even. E4M3 has no inf: beyond ±448 it saturates (OCP's
// saturating mode); E5M2 overflows to ±inf as IEEE does. NaN stays NaN.
std::uint8_t f32_to_f8_e4m3(float value);
std::uint8_t f32_to_f8_e5m2(float value);

// Decodes `elements` values of `type` from little-endian `bytes` into `out`.
// Works for every DType (integers and BOOL convert to their value; ggml blocks are
// dequantized). Callers have checked that bytes.size() == storage_bytes(type, elements).
void decode_to_f32(DType type, std::span<const std::byte> bytes, std::span<float> out);
void decode_to_f64(DType type, std::span<const std::byte> bytes, std::span<double> out);

// Encodes float32 values as `type` (float types round to nearest even; integer types
// round half away from zero and saturate). Block types are the quantizer module's job.
void encode_from_f32(DType type, std::span<const float> values, std::span<std::byte> out);

// Replaces each value by the nearest value of `type` (F16 or BF16, ties to even, as
// encode_from_f32 then decode_to_f32 would); any other type leaves the values unchanged.
void round_through(DType type, std::span<float> values);

}  // namespace quantlens

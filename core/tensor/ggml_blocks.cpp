#include "tensor/ggml_blocks.hpp"

#include <cstdint>
#include <cstring>

#include "tensor/convert.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

constexpr std::size_t kQK = 32;

float half_at(const std::uint8_t* p) {
    std::uint16_t bits;
    std::memcpy(&bits, p, 2);
    return f16_to_f32(bits);
}

// Q4_0 {half d; u8 qs[16]}: element j in the low nibble of qs[j], j+16 in the high one.
void q4_0(const std::uint8_t* b, float* y) {
    float d = half_at(b);
    for (std::size_t j = 0; j < 16; ++j) {
        y[j] = (static_cast<int>(b[2 + j] & 0x0F) - 8) * d;
        y[j + 16] = (static_cast<int>(b[2 + j] >> 4) - 8) * d;
    }
}

// Q4_1 {half d; half m; u8 qs[16]}: x = q*d + m.
void q4_1(const std::uint8_t* b, float* y) {
    float d = half_at(b), m = half_at(b + 2);
    for (std::size_t j = 0; j < 16; ++j) {
        y[j] = (b[4 + j] & 0x0F) * d + m;
        y[j + 16] = (b[4 + j] >> 4) * d + m;
    }
}

// Q5_0 {half d; u8 qh[4]; u8 qs[16]}: bit 4 of element j is bit j of the LE word qh.
void q5_0(const std::uint8_t* b, float* y) {
    float d = half_at(b);
    std::uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    for (std::size_t j = 0; j < 16; ++j) {
        int lo = (b[6 + j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
        int hi = (b[6 + j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
        y[j] = (lo - 16) * d;
        y[j + 16] = (hi - 16) * d;
    }
}

// Q5_1 {half d; half m; u8 qh[4]; u8 qs[16]}: x = q*d + m.
void q5_1(const std::uint8_t* b, float* y) {
    float d = half_at(b), m = half_at(b + 2);
    std::uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    for (std::size_t j = 0; j < 16; ++j) {
        int lo = (b[8 + j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
        int hi = (b[8 + j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
        y[j] = lo * d + m;
        y[j + 16] = hi * d + m;
    }
}

// Q8_0 {half d; i8 qs[32]} and Q8_1 {half d; half s; i8 qs[32]} (s = d * sum(qs)).
void q8(const std::uint8_t* b, float* y, std::size_t header) {
    float d = half_at(b);
    for (std::size_t j = 0; j < kQK; ++j) y[j] = static_cast<std::int8_t>(b[header + j]) * d;
}

}  // namespace

bool can_dequantize(DType type) {
    switch (type) {
        case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
        case DType::Q8_0: case DType::Q8_1: return true;
        default: return !dtype_info(type).is_block;
    }
}

void dequantize_blocks(DType type, std::span<const std::byte> blocks, std::span<float> out) {
    const auto& info = dtype_info(type);
    if (!can_dequantize(type))
        throw Error("", std::string(info.name),
                    "dequantizing this ggml type is not supported (QuantLens decodes F32, F16, BF16, "
                    "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1)");
    const std::size_t count = out.size() / kQK;
    const auto* base = reinterpret_cast<const std::uint8_t*>(blocks.data());
    parallel_for(count, 1 << 15, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const std::uint8_t* b = base + i * info.block_bytes;
            float* y = out.data() + i * kQK;
            switch (type) {
                case DType::Q4_0: q4_0(b, y); break;
                case DType::Q4_1: q4_1(b, y); break;
                case DType::Q5_0: q5_0(b, y); break;
                case DType::Q5_1: q5_1(b, y); break;
                case DType::Q8_0: q8(b, y, 2); break;
                default: q8(b, y, 4); break;  // Q8_1
            }
        }
    });
}

}  // namespace quantlens

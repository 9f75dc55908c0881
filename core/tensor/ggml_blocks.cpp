#include "tensor/ggml_blocks.hpp"

#include <cstdint>

#include "tensor/convert.hpp"
#include "tensor/ggml_block_types.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace {

using namespace ggml;

float half(Half bits) {
    return f16_to_f32(bits);
}

void decode(const BlockQ4_0& b, float* y) {
    const float d = half(b.d);
    for (std::size_t j = 0; j < kBlockValues / 2; ++j) {
        y[j] = (static_cast<int>(b.qs[j] & 0x0F) - 8) * d;
        y[j + 16] = (static_cast<int>(b.qs[j] >> 4) - 8) * d;
    }
}

void decode(const BlockQ4_1& b, float* y) {
    const float d = half(b.d), m = half(b.m);
    for (std::size_t j = 0; j < kBlockValues / 2; ++j) {
        y[j] = (b.qs[j] & 0x0F) * d + m;
        y[j + 16] = (b.qs[j] >> 4) * d + m;
    }
}

// The 5-bit value j of a Q5 block: low nibble from qs, bit 4 from qh.
int five_bits(const std::uint8_t (&qs)[16], std::uint32_t qh, std::size_t j) {
    const int low = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
    return low | static_cast<int>(((qh >> j) & 1u) << 4);
}

void decode(const BlockQ5_0& b, float* y) {
    const float d = half(b.d);
    const std::uint32_t qh = high_bits(b.qh);
    for (std::size_t j = 0; j < kBlockValues; ++j)
        y[j] = (five_bits(b.qs, qh, j) - 16) * d;
}

void decode(const BlockQ5_1& b, float* y) {
    const float d = half(b.d), m = half(b.m);
    const std::uint32_t qh = high_bits(b.qh);
    for (std::size_t j = 0; j < kBlockValues; ++j)
        y[j] = five_bits(b.qs, qh, j) * d + m;
}

template <class Block>  // Q8_0 and Q8_1
void decode_q8(const Block& b, float* y) {
    const float d = half(b.d);
    for (std::size_t j = 0; j < kBlockValues; ++j)
        y[j] = b.qs[j] * d;
}
void decode(const BlockQ8_0& b, float* y) {
    decode_q8(b, y);
}
void decode(const BlockQ8_1& b, float* y) {
    decode_q8(b, y);
}

template <class Block>
void decode_all(const std::uint8_t* blocks, std::span<float> out) {
    parallel_for(out.size() / kBlockValues, 1 << 15, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i)
            decode(load_block<Block>(blocks, i), out.data() + i * kBlockValues);
    });
}

}  // namespace

bool can_dequantize(DType type) {
    switch (type) {
        case DType::Q4_0:
        case DType::Q4_1:
        case DType::Q5_0:
        case DType::Q5_1:
        case DType::Q8_0:
        case DType::Q8_1: return true;
        default: return !dtype_info(type).is_block;
    }
}

void dequantize_blocks(DType type, std::span<const std::byte> blocks_bytes, std::span<float> out) {
    const auto& info = dtype_info(type);
    if (!can_dequantize(type))
        throw Error("", std::string(info.name),
                    "dequantizing this ggml type is not supported (QuantLens decodes F32, F16, BF16, "
                    "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_1)");
    const auto* blocks = reinterpret_cast<const std::uint8_t*>(blocks_bytes.data());
    switch (type) {
        case DType::Q4_0: return decode_all<BlockQ4_0>(blocks, out);
        case DType::Q4_1: return decode_all<BlockQ4_1>(blocks, out);
        case DType::Q5_0: return decode_all<BlockQ5_0>(blocks, out);
        case DType::Q5_1: return decode_all<BlockQ5_1>(blocks, out);
        case DType::Q8_0: return decode_all<BlockQ8_0>(blocks, out);
        default: return decode_all<BlockQ8_1>(blocks, out);
    }
}

}  // namespace quantlens

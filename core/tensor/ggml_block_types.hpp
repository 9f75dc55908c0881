#pragma once
// llama.cpp's ggml block layouts, written once (ggml/src/ggml-common.h; docs/formats.md
// "ggml blocks"). The decoder (tensor/ggml_blocks), the reference quantizers
// (quant/ggml_quantizer) and their SIMD twins (quant/ggml_simd) all read and write these
// structs, so a layout is stated in one place and checked by the compiler.
//
// A block holds 32 consecutive values of a row; files store blocks back to back, little-endian,
// with no padding (each struct's size is asserted below). Scales are IEEE half floats kept as
// their 16-bit patterns. Blocks are copied in and out with memcpy, never cast in place, since a
// file's bytes carry no alignment promise.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace quantlens::ggml {

inline constexpr std::size_t kBlockValues = 32;  // QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 = 32
using Half = std::uint16_t;                      // ggml_half: an IEEE binary16 bit pattern

// Q4_0: x = (q − 8)·d with q in 0..15. Value j (0..15) is the low nibble of qs[j], value j+16
// its high nibble.
struct BlockQ4_0 {
    Half d;
    std::uint8_t qs[kBlockValues / 2];
};

// Q4_1: x = q·d + m with q in 0..15; nibbles as in Q4_0.
struct BlockQ4_1 {
    Half d;
    Half m;
    std::uint8_t qs[kBlockValues / 2];
};

// Q5_0: x = (q − 16)·d with q in 0..31. The low four bits are packed as in Q4_0; bit 4 of
// value j is bit j of the little-endian 32-bit word qh.
struct BlockQ5_0 {
    Half d;
    std::uint8_t qh[4];
    std::uint8_t qs[kBlockValues / 2];
};

// Q5_1: x = q·d + m with q in 0..31; bits as in Q5_0.
struct BlockQ5_1 {
    Half d;
    Half m;
    std::uint8_t qh[4];
    std::uint8_t qs[kBlockValues / 2];
};

// Q8_0: x = q·d with q a signed byte.
struct BlockQ8_0 {
    Half d;
    std::int8_t qs[kBlockValues];
};

// Q8_1: as Q8_0, with s = d·Σq kept for dot products (llama.cpp's activation blocks).
struct BlockQ8_1 {
    Half d;
    Half s;
    std::int8_t qs[kBlockValues];
};

static_assert(sizeof(BlockQ4_0) == 18, "ggml block_q4_0 is 18 bytes");
static_assert(sizeof(BlockQ4_1) == 20, "ggml block_q4_1 is 20 bytes");
static_assert(sizeof(BlockQ5_0) == 22, "ggml block_q5_0 is 22 bytes");
static_assert(sizeof(BlockQ5_1) == 24, "ggml block_q5_1 is 24 bytes");
static_assert(sizeof(BlockQ8_0) == 34, "ggml block_q8_0 is 34 bytes");
static_assert(sizeof(BlockQ8_1) == 36, "ggml block_q8_1 is 36 bytes");

// The block at index `i` of a byte buffer, copied out.
template <class Block>
Block load_block(const std::uint8_t* blocks, std::size_t i) {
    Block block;
    std::memcpy(&block, blocks + i * sizeof(Block), sizeof(Block));
    return block;
}

// `block` written at index `i` of a byte buffer.
template <class Block>
void store_block(const Block& block, std::uint8_t* blocks, std::size_t i) {
    std::memcpy(blocks + i * sizeof(Block), &block, sizeof(Block));
}

// Bit 4 of value j (0..31) of a 5-bit block: bit j of the little-endian word qh.
inline std::uint32_t high_bits(const std::uint8_t (&qh)[4]) {
    std::uint32_t word;
    std::memcpy(&word, qh, 4);
    return word;
}

}  // namespace quantlens::ggml

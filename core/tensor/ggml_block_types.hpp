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

// ---- K-quants: super-blocks of 256 values (QK_K) in 16 or 8 sub-blocks with 4-8 bit scales.

inline constexpr std::size_t kSuperBlockValues = 256;  // QK_K

// Q2_K: 16 sub-blocks of 16; x = d·(sc & 15)·q − dmin·(sc >> 4), q in 0..3. Each group of 128
// values takes 32 bytes of qs: value 32·j + l (j = 0..3) is bits 2j..2j+1 of qs[l].
struct BlockQ2K {
    std::uint8_t scales[16];
    std::uint8_t qs[64];
    Half d;
    Half dmin;
};

// Q3_K: 16 sub-blocks of 16 with 6-bit signed scales (12 bytes, unpacked as ggml does); q in
// 0..3 as in Q2_K, minus 4 when the value's bit in hmask is clear.
struct BlockQ3K {
    std::uint8_t hmask[32];
    std::uint8_t qs[64];
    std::uint8_t scales[12];
    Half d;
};

// Q4_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes (scale_min below);
// x = d·sc·q − dmin·m, q in 0..15 (low nibbles for the first 32 of each 64, high for the next).
struct BlockQ4K {
    Half d;
    Half dmin;
    std::uint8_t scales[12];
    std::uint8_t qs[128];
};

// Q5_K: as Q4_K with a fifth bit per value in qh (bit 2j or 2j+1 of qh[l] for the j-th 64).
struct BlockQ5K {
    Half d;
    Half dmin;
    std::uint8_t scales[12];
    std::uint8_t qh[32];
    std::uint8_t qs[128];
};

// Q6_K: 16 sub-blocks of 16 with signed 8-bit scales; x = d·sc·(q − 32), q in 0..63 from four
// low bits in ql and two high bits in qh.
struct BlockQ6K {
    std::uint8_t ql[128];
    std::uint8_t qh[64];
    std::int8_t scales[16];
    Half d;
};

// Q8_K: x = d·q with a float d (llama.cpp's dot-product operand; bsums are Σq per 16).
struct BlockQ8K {
    float d;
    std::int8_t qs[256];
    std::int16_t bsums[16];
};

// TQ1_0: ternary {−1, 0, 1}·d packed five to a byte in base 3 (qs, then four to a byte in qh).
struct BlockTQ1_0 {
    std::uint8_t qs[48];
    std::uint8_t qh[4];
    Half d;
};

// TQ2_0: ternary (q − 1)·d with q in 0..2 in two bits; 32-byte groups as in Q2_K.
struct BlockTQ2_0 {
    std::uint8_t qs[64];
    Half d;
};

// IQ4_NL: 32 values d·kvalues_iq4nl[q] (a fixed non-linear 16-entry grid), nibbles as Q4_0.
struct BlockIQ4NL {
    Half d;
    std::uint8_t qs[16];
};

// IQ4_XS: 8 sub-blocks of 32, each d·(ls − 32)·kvalues_iq4nl[q]; ls is 6 bits: four in
// scales_l, two in scales_h.
struct BlockIQ4XS {
    Half d;
    std::uint16_t scales_h;
    std::uint8_t scales_l[4];
    std::uint8_t qs[128];
};

// IQ4_NL's and IQ4_XS's 16 levels (ggml-common.h kvalues_iq4nl; docs/formats.md §5), shared by
// the decoder and the quantizer.
inline constexpr std::int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                               1,    13,   25,  38,  53,  69,  89,  113};

// ---- Grid i-quants: super-blocks of 256 whose groups of 8 (or 4) values are points of a fixed
// codebook (tensor/ggml_iq_grids), with signs stored apart. Multi-byte fields are kept as bytes
// and read little-endian.

// IQ2_XXS: per 32 values, 8 bytes: four 8-bit indices into the 256-point grid, then a 32-bit
// word with four 7-bit sign patterns (bits 7k..7k+6) and a 4-bit scale s (bits 28..31);
// x = d·(0.5 + s)·0.25·grid·sign.
struct BlockIQ2XXS {
    Half d;
    std::uint8_t qs[64];
};

// IQ2_XS: per group of 8, a 16-bit word: 9-bit index into the 512-point grid, 7-bit sign
// pattern; per 16 values a 4-bit scale (two to a byte of `scales`).
struct BlockIQ2XS {
    Half d;
    std::uint8_t qs[64];
    std::uint8_t scales[8];
};

// IQ2_S: 10-bit indices into the 1024-point grid (low 8 bits in qs[0..31], high 2 in qh), full
// 8-bit sign bytes in qs[32..63], 4-bit scales per 16 values.
struct BlockIQ2S {
    Half d;
    std::uint8_t qs[64];
    std::uint8_t qh[8];
    std::uint8_t scales[8];
};

// IQ3_XXS: 64 8-bit indices into the 256-point grid of 4-value points, then per 32 values a
// 32-bit word of four 7-bit sign patterns and a 4-bit scale; x = d·(0.5 + s)·0.5·grid·sign.
struct BlockIQ3XXS {
    Half d;
    std::uint8_t qs[96];
};

// IQ3_S: 9-bit indices into the 512-point grid (low 8 in qs, bit 8 in qh), 8-bit sign bytes,
// 4-bit scales per 32 values; x = d·(1 + 2s)·grid·sign.
struct BlockIQ3S {
    Half d;
    std::uint8_t qs[64];
    std::uint8_t qh[8];
    std::uint8_t signs[32];
    std::uint8_t scales[4];
};

// IQ1_S: 11-bit indices into the 2048-point ternary grid (low 8 in qs); per 32 values a 16-bit
// qh: three high index bits per group (bits 3k..3k+2), a 3-bit scale s (bits 12..14) and the
// sign of the shift δ = ±1/8 (bit 15); x = d·(2s + 1)·(grid + δ).
struct BlockIQ1S {
    Half d;
    std::uint8_t qs[32];
    std::uint8_t qh[16];
};

// IQ1_M: as IQ1_S with a shift sign per group of 8 (bit 3 or 7 of its qh nibble) and 3-bit
// scales per 16 values, four to a 16-bit word; the half d is spread over the top nibbles of
// those four words.
struct BlockIQ1M {
    std::uint8_t qs[32];
    std::uint8_t qh[16];
    std::uint8_t scales[8];
};

// MXFP4 (ggml type 39): 32 E2M1 values sharing one E8M0 exponent e; x = kvalues_fp4[q]·2^(e−128)
// (the table holds twice the E2M1 values, hence the half).
struct BlockMXFP4 {
    std::uint8_t e;
    std::uint8_t qs[16];
};

// NVFP4 (ggml type 40): 64 E2M1 values in four sub-blocks of 16, each with an unsigned E4M3
// scale; x = kvalues_fp4[q]·UE4M3(d)/2.
struct BlockNVFP4 {
    std::uint8_t d[4];
    std::uint8_t qs[32];
};

// Q1_0 (ggml type 41): 128 values ±d, one bit each (set: +d).
struct BlockQ1_0 {
    Half d;
    std::uint8_t qs[16];
};

// Q2_0 (ggml type 42): 64 values (q − 1)·d, q in 0..3, four to a byte from the low bits.
struct BlockQ2_0 {
    Half d;
    std::uint8_t qs[16];
};

static_assert(sizeof(BlockQ2K) == 84, "ggml block_q2_K is 84 bytes");
static_assert(sizeof(BlockQ3K) == 110, "ggml block_q3_K is 110 bytes");
static_assert(sizeof(BlockQ4K) == 144, "ggml block_q4_K is 144 bytes");
static_assert(sizeof(BlockQ5K) == 176, "ggml block_q5_K is 176 bytes");
static_assert(sizeof(BlockQ6K) == 210, "ggml block_q6_K is 210 bytes");
static_assert(sizeof(BlockQ8K) == 292, "ggml block_q8_K is 292 bytes");
static_assert(sizeof(BlockTQ1_0) == 54, "ggml block_tq1_0 is 54 bytes");
static_assert(sizeof(BlockTQ2_0) == 66, "ggml block_tq2_0 is 66 bytes");
static_assert(sizeof(BlockIQ4NL) == 18, "ggml block_iq4_nl is 18 bytes");
static_assert(sizeof(BlockIQ4XS) == 136, "ggml block_iq4_xs is 136 bytes");
static_assert(sizeof(BlockIQ2XXS) == 66, "ggml block_iq2_xxs is 66 bytes");
static_assert(sizeof(BlockIQ2XS) == 74, "ggml block_iq2_xs is 74 bytes");
static_assert(sizeof(BlockIQ2S) == 82, "ggml block_iq2_s is 82 bytes");
static_assert(sizeof(BlockIQ3XXS) == 98, "ggml block_iq3_xxs is 98 bytes");
static_assert(sizeof(BlockIQ3S) == 110, "ggml block_iq3_s is 110 bytes");
static_assert(sizeof(BlockIQ1S) == 50, "ggml block_iq1_s is 50 bytes");
static_assert(sizeof(BlockIQ1M) == 56, "ggml block_iq1_m is 56 bytes");
static_assert(sizeof(BlockMXFP4) == 17, "ggml block_mxfp4 is 17 bytes");
static_assert(sizeof(BlockNVFP4) == 36, "ggml block_nvfp4 is 36 bytes");
static_assert(sizeof(BlockQ1_0) == 18, "ggml block_q1_0 is 18 bytes");
static_assert(sizeof(BlockQ2_0) == 18, "ggml block_q2_0 is 18 bytes");

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

// IQ1_M's super-block scale: a half whose four nibbles top the four 16-bit scale words.
inline Half iq1m_scale_bits(const std::uint8_t (&scales)[8]) {
    auto word = [&](int w) {
        return static_cast<unsigned>(scales[2 * w] | (scales[2 * w + 1] << 8));
    };
    return static_cast<Half>((word(0) >> 12) | ((word(1) >> 8) & 0x00F0) | ((word(2) >> 4) & 0x0F00) |
                             (word(3) & 0xF000));
}

// The little-endian 16- and 32-bit words at p.
inline std::uint16_t le16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t le32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
           (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

// Bit 4 of value j (0..31) of a 5-bit block: bit j of the little-endian word qh.
inline std::uint32_t high_bits(const std::uint8_t (&qh)[4]) {
    std::uint32_t word;
    std::memcpy(&word, qh, 4);
    return word;
}

}  // namespace quantlens::ggml

#include "tensor/ggml_blocks.hpp"

#include <immintrin.h>

#include <bit>
#include <cmath>
#include <cstdint>

#include "tensor/convert.hpp"
#include "tensor/ggml_block_types.hpp"
#include "tensor/ggml_iq_grids.hpp"
#include "util/cpu_features.hpp"
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

// ---- K-quants. Each decoder follows ggml's dequantize_row_* operation for operation (the same
// float products in the same order, no fused multiply-add), so values match it bit for bit.

// Speed without changing a bit: where ggml computes dl·q − ml (or dl·level) per value, the
// decoders below compute the same product once per level into a small table and look it up.

void decode(const BlockQ2K& b, float* y) {
    const float d = half(b.d), min = half(b.dmin);
    const std::uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int half_group = 0; half_group < 2; ++half_group) {
                const std::uint8_t sc = b.scales[is++];
                const float dl = d * static_cast<float>(sc & 0xF), ml = min * static_cast<float>(sc >> 4);
                const float level[4] = {dl * 0.0f - ml, dl * 1.0f - ml, dl * 2.0f - ml, dl * 3.0f - ml};
                for (int l = 0; l < 16; ++l)
                    *y++ = level[(q[l + 16 * half_group] >> shift) & 3];
            }
}

// Q3_K's twelve scale bytes hold sixteen 6-bit scales: low four bits in bytes 0-7 (two nibbles
// each), the top two bits in bytes 8-11 (four to a byte). Unpacked to 0..63; the scale is − 32.
void q3k_scales(const std::uint8_t (&packed)[12], int (&scales)[16]) {
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
        const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        scales[j] = low | (high << 4);
    }
}

void decode(const BlockQ3K& b, float* y) {
    const float d_all = half(b.d);
    int scales[16];
    q3k_scales(b.scales, scales);
    const std::uint8_t* q = b.qs;
    std::uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2, m = static_cast<std::uint8_t>(m << 1))
            for (int half_group = 0; half_group < 2; ++half_group) {
                const float dl = d_all * static_cast<float>(scales[is++] - 32);
                for (int l = 0; l < 16; ++l) {
                    const int k = l + 16 * half_group;
                    const int value = ((q[k] >> shift) & 3) - ((b.hmask[k] & m) ? 0 : 4);
                    *y++ = dl * static_cast<float>(value);
                }
            }
}

// Q4_K and Q5_K: scale and min of sub-block j (0..7) from the twelve packed bytes: 6 bits each,
// j < 4 in the low bits of bytes j and j+4, j >= 4 in byte j+4's nibbles with the top two bits
// from bytes j−4 and j.
void scale_min(int j, const std::uint8_t (&q)[12], std::uint8_t& scale, std::uint8_t& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = static_cast<std::uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        min = static_cast<std::uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

void decode(const BlockQ4K& b, float* y) {
    const float d = half(b.d), min = half(b.dmin);
    const std::uint8_t* q = b.qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
        std::uint8_t sc, m;
        scale_min(is, b.scales, sc, m);
        const float d1 = d * sc, m1 = min * m;
        scale_min(is + 1, b.scales, sc, m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
}

void decode(const BlockQ5K& b, float* y) {
    const float d = half(b.d), min = half(b.dmin);
    const std::uint8_t* ql = b.qs;
    unsigned u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        std::uint8_t sc, m;
        scale_min(is, b.scales, sc, m);
        const float d1 = d * sc, m1 = min * m;
        scale_min(is + 1, b.scales, sc, m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l)
            *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l)
            *y++ = d2 * static_cast<float>((ql[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - m2;
    }
}

// Q6_K value l + 32k of each 128 (k = 0..3): four bits from ql (low or high nibble of byte
// l or l + 32), two from qh (bits 2k, 2k+1 of byte l), scale sc[l/16 + 2k]. One contiguous run
// of 16 outputs per scale, so the loop vectorises.
void decode(const BlockQ6K& b, float* y) {
    const float d = half(b.d);
    const std::uint8_t *ql = b.ql, *qh = b.qh;
    const std::int8_t* sc = b.scales;
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
        for (int k = 0; k < 4; ++k) {
            const std::uint8_t* low = ql + 32 * (k & 1);
            const int nibble = 4 * (k >> 1), high = 2 * k;
            for (int h = 0; h < 2; ++h) {
                const float dl = d * static_cast<float>(sc[h + 2 * k]);
                for (int l = 16 * h; l < 16 * h + 16; ++l) {
                    const int q = ((low[l] >> nibble) & 0xF) | (((qh[l] >> high) & 3) << 4);
                    y[l + 32 * k] = dl * static_cast<float>(q - 32);
                }
            }
        }
}

void decode(const BlockQ8K& b, float* y) {
    for (int j = 0; j < 256; ++j)
        y[j] = b.d * static_cast<float>(b.qs[j]);
}

// ---- Ternary, non-linear and FP4 grids.

// One base-3 digit of a TQ1_0 byte: the byte times 3^n (mod 256) is a fixed-point fraction
// whose top "trit" is digit n; (q·3) >> 8 reads it as 0, 1 or 2.
float trit(std::uint8_t byte, std::uint8_t power, float d) {
    const auto q = static_cast<std::uint8_t>(byte * power);
    return static_cast<float>(((q * 3) >> 8) - 1) * d;
}

void decode(const BlockTQ1_0& b, float* y) {
    static constexpr std::uint8_t kPow3[6] = {1, 3, 9, 27, 81, 243};
    const float d = half(b.d);
    for (int n = 0; n < 5; ++n)  // qs[0..31]: five values a byte
        for (int m = 0; m < 32; ++m)
            *y++ = trit(b.qs[m], kPow3[n], d);
    for (int n = 0; n < 5; ++n)  // qs[32..47]
        for (int m = 0; m < 16; ++m)
            *y++ = trit(b.qs[32 + m], kPow3[n], d);
    for (int n = 0; n < 4; ++n)  // qh: four values a byte
        for (int j = 0; j < 4; ++j)
            *y++ = trit(b.qh[j], kPow3[n], d);
}

void decode(const BlockTQ2_0& b, float* y) {
    const float d = half(b.d);
    for (int j = 0; j < 64; j += 32)
        for (int l = 0; l < 4; ++l)
            for (int m = 0; m < 32; ++m)
                *y++ = static_cast<float>(((b.qs[j + m] >> (2 * l)) & 3) - 1) * d;
}

// E2M1 magnitudes doubled (0, 0.5, 1, 1.5, 2, 3, 4, 6 → integers), sign in bit 3 (kvalues_fp4).
constexpr std::int8_t kFp4Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

void decode(const BlockIQ4NL& b, float* y) {
    const float d = half(b.d);
    float level[16];
    for (int k = 0; k < 16; ++k)
        level[k] = d * static_cast<float>(kIq4Levels[k]);
    for (int j = 0; j < 16; ++j) {
        y[j] = level[b.qs[j] & 0xF];
        y[j + 16] = level[b.qs[j] >> 4];
    }
}

void decode(const BlockIQ4XS& b, float* y) {
    const float d = half(b.d);
    const std::uint8_t* qs = b.qs;
    for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
        const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
        const float dl = d * static_cast<float>(ls - 32);
        float level[16];
        for (int k = 0; k < 16; ++k)
            level[k] = dl * static_cast<float>(kIq4Levels[k]);
        for (int j = 0; j < 16; ++j) {
            y[j] = level[qs[j] & 0xF];
            y[j + 16] = level[qs[j] >> 4];
        }
    }
}

// ---- Grid i-quants: each group of 8 (or 4) values is a codebook point (tensor/ggml_iq_grids)
// times the group's scale, with signs. Products are formed in ggml's order: scale · byte, then
// the sign (a multiplication by ±1, exact).

float signed_product(float scale, int byte, std::uint8_t signs, int j) {
    return scale * static_cast<float>(byte) * ((signs >> j) & 1 ? -1.0f : 1.0f);
}

void decode(const BlockIQ2XXS& b, float* y) {
    const float d = half(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const std::uint8_t* indices = b.qs + 8 * ib;
        const std::uint32_t word = le32(b.qs + 8 * ib + 4);
        const float db = d * (0.5f + static_cast<float>(word >> 28)) * 0.25f;
        for (int l = 0; l < 4; ++l, y += 8) {
            const auto& point = kIq2xxsGrid[indices[l]];
            const std::uint8_t signs = even_signs((word >> (7 * l)) & 127);
            for (int j = 0; j < 8; ++j)
                y[j] = signed_product(db, point[j], signs, j);
        }
    }
}

void decode(const BlockIQ2XS& b, float* y) {
    const float d = half(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xF)) * 0.25f,
                             d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l, y += 8) {
            const std::uint16_t word = le16(b.qs + 2 * (4 * ib + l));
            const auto& point = kIq2xsGrid[word & 511];
            const std::uint8_t signs = even_signs(word >> 9);
            for (int j = 0; j < 8; ++j)
                y[j] = signed_product(db[l / 2], point[j], signs, j);
        }
    }
}

void decode(const BlockIQ2S& b, float* y) {
    const float d = half(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const float db[2] = {d * (0.5f + static_cast<float>(b.scales[ib] & 0xF)) * 0.25f,
                             d * (0.5f + static_cast<float>(b.scales[ib] >> 4)) * 0.25f};
        for (int l = 0; l < 4; ++l, y += 8) {
            const int index = b.qs[4 * ib + l] | ((b.qh[ib] << (8 - 2 * l)) & 0x300);
            const auto& point = kIq2sGrid[index];
            const std::uint8_t signs = b.qs[32 + 4 * ib + l];
            for (int j = 0; j < 8; ++j)
                y[j] = signed_product(db[l / 2], point[j], signs, j);
        }
    }
}

void decode(const BlockIQ3XXS& b, float* y) {
    const float d = half(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const std::uint8_t* indices = b.qs + 8 * ib;
        const std::uint32_t word = le32(b.qs + 64 + 4 * ib);
        const float db = d * (0.5f + static_cast<float>(word >> 28)) * 0.5f;
        for (int l = 0; l < 4; ++l, y += 8) {
            const std::uint8_t signs = even_signs((word >> (7 * l)) & 127);
            const auto& first = kIq3xxsGrid[indices[2 * l]];
            const auto& second = kIq3xxsGrid[indices[2 * l + 1]];
            for (int j = 0; j < 4; ++j) {
                y[j] = signed_product(db, first[j], signs, j);
                y[j + 4] = signed_product(db, second[j], signs, j + 4);
            }
        }
    }
}

void decode(const BlockIQ3S& b, float* y) {
    const float d = half(b.d);
    for (int ib = 0; ib < 8; ++ib) {  // sub-blocks of 32; two share a byte of scales
        const int s = (b.scales[ib / 2] >> (4 * (ib % 2))) & 0xF;
        const float db = d * static_cast<float>(1 + 2 * s);
        const std::uint8_t* indices = b.qs + 8 * ib;
        const int high = b.qh[ib];
        for (int l = 0; l < 4; ++l, y += 8) {
            const auto& first = kIq3sGrid[indices[2 * l] | ((high << (8 - 2 * l)) & 256)];
            const auto& second = kIq3sGrid[indices[2 * l + 1] | ((high << (7 - 2 * l)) & 256)];
            const std::uint8_t signs = b.signs[4 * ib + l];
            for (int j = 0; j < 4; ++j) {
                y[j] = signed_product(db, first[j], signs, j);
                y[j + 4] = signed_product(db, second[j], signs, j + 4);
            }
        }
    }
}

// One group of 8 of IQ1_S or IQ1_M: dl·(grid + δ).
void decode_iq1_group(int index, float dl, float delta, float* y) {
    const auto& point = kIq1sGrid[index];
    for (int j = 0; j < 8; ++j)
        y[j] = dl * (static_cast<float>(point[j]) + delta);
}

void decode(const BlockIQ1S& b, float* y) {
    const float d = half(b.d);
    for (int ib = 0; ib < 8; ++ib) {
        const int qh = le16(b.qh + 2 * ib);
        const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
        const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
        for (int l = 0; l < 4; ++l, y += 8)
            decode_iq1_group(b.qs[4 * ib + l] | (((qh >> (3 * l)) & 7) << 8), dl, delta, y);
    }
}

void decode(const BlockIQ1M& b, float* y) {
    const float d = half(iq1m_scale_bits(b.scales));
    for (int ib = 0; ib < 8; ++ib) {
        const int sc = le16(b.scales + 2 * (ib / 2));
        const float dl[2] = {d * static_cast<float>(2 * ((sc >> (6 * (ib % 2))) & 7) + 1),
                             d * static_cast<float>(2 * ((sc >> (6 * (ib % 2) + 3)) & 7) + 1)};
        for (int l = 0; l < 4; ++l, y += 8) {
            const int qh = b.qh[2 * ib + l / 2] >> (4 * (l % 2));  // this group's nibble
            const float delta = qh & 0x08 ? -kIq1Delta : kIq1Delta;
            decode_iq1_group(b.qs[4 * ib + l] | ((qh & 7) << 8), dl[l / 2], delta, y);
        }
    }
}

// 2^(e − 128): half the E8M0 scale 2^(e − 127), matching the doubled FP4 table.
float e8m0_half(std::uint8_t e) {
    const std::uint32_t bits = e < 2 ? 0x00200000u << e : static_cast<std::uint32_t>(e - 1) << 23;
    return std::bit_cast<float>(bits);
}

void decode(const BlockMXFP4& b, float* y) {
    const float d = e8m0_half(b.e);
    for (int j = 0; j < 16; ++j) {
        y[j] = static_cast<float>(kFp4Doubled[b.qs[j] & 0xF]) * d;
        y[j + 16] = static_cast<float>(kFp4Doubled[b.qs[j] >> 4]) * d;
    }
}

// An unsigned E4M3 scale (bias 7; 0 and 0x7F read as 0), halved for the doubled FP4 table.
float ue4m3_half(std::uint8_t x) {
    if (x == 0 || x == 0x7F)
        return 0.0f;
    const int exponent = (x >> 3) & 0xF, mantissa = x & 7;
    const float raw = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -9)
                                    : std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
    return raw * 0.5f;
}

void decode(const BlockNVFP4& b, float* y) {
    for (int s = 0; s < 4; ++s, y += 16) {
        const float d = ue4m3_half(b.d[s]);
        for (int j = 0; j < 8; ++j) {
            y[j] = static_cast<float>(kFp4Doubled[b.qs[8 * s + j] & 0xF]) * d;
            y[j + 8] = static_cast<float>(kFp4Doubled[b.qs[8 * s + j] >> 4]) * d;
        }
    }
}

void decode(const BlockQ1_0& b, float* y) {
    const float d = half(b.d);
    for (int j = 0; j < 128; ++j)
        y[j] = (b.qs[j / 8] >> (j % 8)) & 1 ? d : -d;
}

void decode(const BlockQ2_0& b, float* y) {
    const float d = half(b.d);
    for (int j = 0; j < 64; ++j)
        y[j] = static_cast<float>(((b.qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
}

// Q2_K in AVX2: each group of 16 looks its 2-bit codes up in the same four-entry table of
// products as the scalar decoder (a lane-wise permute), so the bits are the same.
__attribute__((target("avx2"))) void decode_q2k_avx2(const BlockQ2K& b, float* y) {
    const float d = half(b.d), min = half(b.dmin);
    const std::uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int half_group = 0; half_group < 2; ++half_group, y += 16) {
                const std::uint8_t sc = b.scales[is++];
                const float dl = d * static_cast<float>(sc & 0xF), ml = min * static_cast<float>(sc >> 4);
                const __m256 level = _mm256_setr_ps(dl * 0.0f - ml, dl * 1.0f - ml, dl * 2.0f - ml,
                                                    dl * 3.0f - ml, 0.0f, 0.0f, 0.0f, 0.0f);
                const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * half_group));
                const __m128i codes =
                    _mm_and_si128(_mm_srl_epi16(bytes, _mm_cvtsi32_si128(shift)), _mm_set1_epi8(3));
                _mm256_storeu_ps(y, _mm256_permutevar8x32_ps(level, _mm256_cvtepu8_epi32(codes)));
                _mm256_storeu_ps(
                    y + 8, _mm256_permutevar8x32_ps(level, _mm256_cvtepu8_epi32(_mm_srli_si128(codes, 8))));
            }
}

// Q6_K in AVX2: the same dl·(q − 32) products, sixteen codes assembled at a time.
__attribute__((target("avx2"))) void decode_q6k_avx2(const BlockQ6K& b, float* y) {
    const float d = half(b.d);
    const std::uint8_t *ql = b.ql, *qh = b.qh;
    const std::int8_t* sc = b.scales;
    const __m256i bias = _mm256_set1_epi32(32);
    for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8)
        for (int k = 0; k < 4; ++k)
            for (int h = 0; h < 2; ++h) {
                const __m256 dl = _mm256_set1_ps(d * static_cast<float>(sc[h + 2 * k]));
                const __m128i low =
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + 32 * (k & 1) + 16 * h));
                const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + 16 * h));
                const __m128i nibbles =
                    _mm_and_si128(_mm_srl_epi16(low, _mm_cvtsi32_si128(4 * (k >> 1))), _mm_set1_epi8(0xF));
                const __m128i tops =
                    _mm_and_si128(_mm_srl_epi16(high, _mm_cvtsi32_si128(2 * k)), _mm_set1_epi8(3));
                const __m128i codes = _mm_or_si128(nibbles, _mm_slli_epi16(tops, 4));  // tops < 4: no carry
                float* out = y + 32 * k + 16 * h;
                for (int part = 0; part < 2; ++part) {
                    const __m256i q =
                        _mm256_sub_epi32(_mm256_cvtepu8_epi32(part ? _mm_srli_si128(codes, 8) : codes), bias);
                    _mm256_storeu_ps(out + 8 * part, _mm256_mul_ps(dl, _mm256_cvtepi32_ps(q)));
                }
            }
}

// IQ4_XS in AVX2: each sub-block's sixteen products dl·level looked up lane-wise (two
// permutes and a blend), the same table the scalar decoder indexes.
__attribute__((target("avx2"))) void decode_iq4xs_avx2(const BlockIQ4XS& b, float* y) {
    const float d = half(b.d);
    const std::uint8_t* qs = b.qs;
    for (int ib = 0; ib < 8; ++ib, y += 32, qs += 16) {
        const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
        const float dl = d * static_cast<float>(ls - 32);
        alignas(32) float level[16];
        for (int k = 0; k < 16; ++k)
            level[k] = dl * static_cast<float>(kIq4Levels[k]);
        const __m256 low = _mm256_load_ps(level), high = _mm256_load_ps(level + 8);
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
        const __m128i halves[2] = {_mm_and_si128(bytes, _mm_set1_epi8(0xF)),
                                   _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0xF))};
        for (int h = 0; h < 2; ++h)
            for (int part = 0; part < 2; ++part) {
                const __m256i index = _mm256_cvtepu8_epi32(part ? _mm_srli_si128(halves[h], 8) : halves[h]);
                const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(7)));
                _mm256_storeu_ps(y + 16 * h + 8 * part,
                                 _mm256_blendv_ps(_mm256_permutevar8x32_ps(low, index),
                                                  _mm256_permutevar8x32_ps(high, index), upper));
            }
    }
}

// Q3_K in AVX2: dl·(q − 4·[hmask bit clear]) for sixteen values at a time, as the scalar does.
__attribute__((target("avx2"))) void decode_q3k_avx2(const BlockQ3K& b, float* y) {
    const float d_all = half(b.d);
    int scales[16];
    q3k_scales(b.scales, scales);
    const std::uint8_t* q = b.qs;
    int is = 0, bit = 0;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2, ++bit)
            for (int half_group = 0; half_group < 2; ++half_group, y += 16) {
                const __m256 dl = _mm256_set1_ps(d_all * static_cast<float>(scales[is++] - 32));
                const int k = 16 * half_group;
                const __m128i codes =
                    _mm_and_si128(_mm_srl_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + k)),
                                                _mm_cvtsi32_si128(shift)),
                                  _mm_set1_epi8(3));
                const __m128i mask = _mm_set1_epi8(static_cast<char>(1 << bit));
                const __m128i clear = _mm_cmpeq_epi8(
                    _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.hmask + k)), mask),
                    _mm_setzero_si128());
                const __m128i minus = _mm_and_si128(clear, _mm_set1_epi8(4));
                for (int part = 0; part < 2; ++part) {
                    const __m128i c = part ? _mm_srli_si128(codes, 8) : codes;
                    const __m128i m = part ? _mm_srli_si128(minus, 8) : minus;
                    const __m256i value = _mm256_sub_epi32(_mm256_cvtepu8_epi32(c), _mm256_cvtepu8_epi32(m));
                    _mm256_storeu_ps(y + 8 * part, _mm256_mul_ps(dl, _mm256_cvtepi32_ps(value)));
                }
            }
}

// Q5_K in AVX2: d·sc·(low nibble + 16·[qh bit]) − dmin·m, the scalar's two operations per value.
__attribute__((target("avx2"))) void decode_q5k_avx2(const BlockQ5K& b, float* y) {
    const float d = half(b.d), min = half(b.dmin);
    const std::uint8_t* ql = b.qs;
    for (int is = 0, pair = 0; is < 8; is += 2, ql += 32, ++pair) {
        for (int h = 0; h < 2; ++h, y += 32) {
            std::uint8_t sc, m;
            scale_min(is + h, b.scales, sc, m);
            const __m256 dl = _mm256_set1_ps(d * sc), ml = _mm256_set1_ps(min * m);
            const __m128i bit = _mm_set1_epi8(static_cast<char>(1 << (2 * pair + h)));
            for (int part = 0; part < 32; part += 16) {
                const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + part));
                const __m128i nibbles =
                    _mm_and_si128(h ? _mm_srli_epi16(bytes, 4) : bytes, _mm_set1_epi8(0xF));
                const __m128i set = _mm_cmpeq_epi8(
                    _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh + part)), bit), bit);
                const __m128i codes = _mm_add_epi8(nibbles, _mm_and_si128(set, _mm_set1_epi8(16)));
                for (int k = 0; k < 2; ++k) {
                    const __m256 q =
                        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(k ? _mm_srli_si128(codes, 8) : codes));
                    _mm256_storeu_ps(y + part + 8 * k, _mm256_sub_ps(_mm256_mul_ps(dl, q), ml));
                }
            }
        }
    }
}

// A block type's AVX2 decoder, where it has one (null for the others).
template <class Block>
using BlockDecoder = void (*)(const Block&, float*);
template <class Block>
constexpr BlockDecoder<Block> kAvx2Decoder = nullptr;
template <>
constexpr BlockDecoder<BlockQ2K> kAvx2Decoder<BlockQ2K> = decode_q2k_avx2;
template <>
constexpr BlockDecoder<BlockQ3K> kAvx2Decoder<BlockQ3K> = decode_q3k_avx2;
template <>
constexpr BlockDecoder<BlockQ5K> kAvx2Decoder<BlockQ5K> = decode_q5k_avx2;
template <>
constexpr BlockDecoder<BlockQ6K> kAvx2Decoder<BlockQ6K> = decode_q6k_avx2;
template <>
constexpr BlockDecoder<BlockIQ4XS> kAvx2Decoder<BlockIQ4XS> = decode_iq4xs_avx2;

template <class Block>
void decode_all(const std::uint8_t* blocks, std::span<float> out, std::size_t values) {
    const BlockDecoder<Block> avx2 = kAvx2Decoder<Block> && cpu_has_avx2() ? kAvx2Decoder<Block> : nullptr;
    parallel_for(out.size() / values, (1 << 20) / values, [&](std::size_t begin, std::size_t end) {
        for (std::size_t i = begin; i < end; ++i) {
            const Block block = load_block<Block>(blocks, i);
            if (avx2)
                avx2(block, out.data() + i * values);
            else
                decode(block, out.data() + i * values);
        }
    });
}

}  // namespace

void dequantize_blocks(DType type, std::span<const std::byte> blocks_bytes, std::span<float> out) {
    const auto& info = dtype_info(type);
    const auto* blocks = reinterpret_cast<const std::uint8_t*>(blocks_bytes.data());
    const std::size_t n = info.block_elements;
    switch (type) {
        case DType::Q4_0: return decode_all<BlockQ4_0>(blocks, out, n);
        case DType::Q4_1: return decode_all<BlockQ4_1>(blocks, out, n);
        case DType::Q5_0: return decode_all<BlockQ5_0>(blocks, out, n);
        case DType::Q5_1: return decode_all<BlockQ5_1>(blocks, out, n);
        case DType::Q8_0: return decode_all<BlockQ8_0>(blocks, out, n);
        case DType::Q8_1: return decode_all<BlockQ8_1>(blocks, out, n);
        case DType::Q2_K: return decode_all<BlockQ2K>(blocks, out, n);
        case DType::Q3_K: return decode_all<BlockQ3K>(blocks, out, n);
        case DType::Q4_K: return decode_all<BlockQ4K>(blocks, out, n);
        case DType::Q5_K: return decode_all<BlockQ5K>(blocks, out, n);
        case DType::Q6_K: return decode_all<BlockQ6K>(blocks, out, n);
        case DType::Q8_K: return decode_all<BlockQ8K>(blocks, out, n);
        case DType::TQ1_0: return decode_all<BlockTQ1_0>(blocks, out, n);
        case DType::TQ2_0: return decode_all<BlockTQ2_0>(blocks, out, n);
        case DType::IQ2_XXS: return decode_all<BlockIQ2XXS>(blocks, out, n);
        case DType::IQ2_XS: return decode_all<BlockIQ2XS>(blocks, out, n);
        case DType::IQ2_S: return decode_all<BlockIQ2S>(blocks, out, n);
        case DType::IQ3_XXS: return decode_all<BlockIQ3XXS>(blocks, out, n);
        case DType::IQ3_S: return decode_all<BlockIQ3S>(blocks, out, n);
        case DType::IQ1_S: return decode_all<BlockIQ1S>(blocks, out, n);
        case DType::IQ1_M: return decode_all<BlockIQ1M>(blocks, out, n);
        case DType::IQ4_NL: return decode_all<BlockIQ4NL>(blocks, out, n);
        case DType::IQ4_XS: return decode_all<BlockIQ4XS>(blocks, out, n);
        case DType::MXFP4: return decode_all<BlockMXFP4>(blocks, out, n);
        case DType::NVFP4: return decode_all<BlockNVFP4>(blocks, out, n);
        case DType::Q1_0: return decode_all<BlockQ1_0>(blocks, out, n);
        case DType::Q2_0: return decode_all<BlockQ2_0>(blocks, out, n);
        default:
            throw Error("", std::string(info.name), "not a ggml block type");  // callers decode the others
    }
}

}  // namespace quantlens

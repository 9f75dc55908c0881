// llama.cpp's super-block quantizers (K-quants, IQ4_NL/IQ4_XS, TQ1_0/TQ2_0) and the
// importance-weighted versions of the legacy 32-value types, as ggml_quantize_chunk runs them
// (ggml-quants.c; docs/quant-spec.md "ggml types"). Without importance weights each type uses
// ggml's reference quantizer; with them, its weighted search, where a column's weight is
//   w = importance[column] · sqrt(σ² + x²),
// σ² being the mean square of the row (legacy types) or twice that of the super-block.
#include "quant/ggml_kquants.hpp"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "quant/ggml_iquants.hpp"
#include "quant/ggml_kquant_lanes.hpp"
#include "quant/ggml_scale_search.hpp"
#include "tensor/convert.hpp"
#include "tensor/ggml_block_types.hpp"
#include "util/cpu_features.hpp"
#include "util/error.hpp"

namespace quantlens::ggml {

namespace {

constexpr int kQK = static_cast<int>(kSuperBlockValues);

Half to_half(float value) {
    return f32_to_f16(value);
}
float from_half(Half bits) {
    return f16_to_f32(bits);
}
int clamp(int l, int lo, int hi) {
    return l < lo ? lo : l > hi ? hi : l;
}

float sum_of(int n, const float* x) {
    float sum = 0;
    for (int i = 0; i < n; ++i)
        sum += x[i];
    return sum;
}

// Q2_K and Q3_K keep 2-bit codes four to a byte: value 32·k + l of each 128 in bits 2k of qs[l].
void pack_2bit(const std::uint8_t* L, std::uint8_t* qs) {
    for (int j = 0; j < kQK; j += 128, qs += 32)
        for (int l = 0; l < 32; ++l)
            qs[l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                              (L[j + l + 96] << 6));
}

// ---- Q2_K: 16 groups of 16, 4-bit scale and 4-bit minimum per group.

// Codes again from the stored (half-rounded) scales, then packed.
void finish_q2k(const float* x, std::uint8_t* L, BlockQ2K& y) {
    const float d_all = from_half(y.d), m_all = from_half(y.dmin);
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * static_cast<float>(y.scales[j] & 0xF);
        if (d == 0)
            continue;
        const float m = m_all * static_cast<float>(y.scales[j] >> 4);
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = static_cast<std::uint8_t>(clamp(nearest_int((x[16 * j + i] + m) / d), 0, 3));
    }
    pack_2bit(L, y.qs);
}

BlockQ2K q2_k_block(const float* x) {
    std::uint8_t L[kQK], scratch[16];
    float weights[16], mins[16], scales[16];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l)
            weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = asymmetric_search(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], scratch, -0.5f, 0.1f,
                                      15, true, true);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    BlockQ2K y{};
    if (max_scale > 0) {
        const float iscale = 15.0f / max_scale;
        for (int j = 0; j < 16; ++j)
            y.scales[j] = static_cast<std::uint8_t>(nearest_int(iscale * scales[j]));
        y.d = to_half(max_scale / 15.0f);
    } else {
        y.d = to_half(0.0f);
    }
    if (max_min > 0) {
        const float iscale = 15.0f / max_min;
        for (int j = 0; j < 16; ++j)
            y.scales[j] = static_cast<std::uint8_t>(
                y.scales[j] | (static_cast<unsigned>(nearest_int(iscale * mins[j])) << 4));
        y.dmin = to_half(max_min / 15.0f);
    } else {
        y.dmin = to_half(0.0f);
    }
    finish_q2k(x, L, y);
    return y;
}

BlockQ2K q2_k_weighted(const float* x, const float* importance) {
    std::uint8_t L[kQK], scratch[16], Ls[16], Lm[16];
    float weights[16], mins[16], scales[16], sw[16];
    const float sigma2 = sum_of_squares(kQK, x) / kQK;
    for (int j = 0; j < 16; ++j) {
        importance_weights(16, x + 16 * j, importance + 16 * j, sigma2, weights);
        sw[j] = sum_of(16, weights);
        scales[j] = asymmetric_search(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], scratch, -0.9f, 0.05f,
                                      36, false, false);
    }
    BlockQ2K y{};
    y.d = to_half(positive_search(16, 15, scales, Ls, sw));
    y.dmin = to_half(positive_search(16, 15, mins, Lm, sw));
    for (int j = 0; j < 16; ++j)
        y.scales[j] = static_cast<std::uint8_t>(Ls[j] | (Lm[j] << 4));
    finish_q2k(x, L, y);
    return y;
}

// ---- Q3_K: 16 groups of 16 with 6-bit signed scales (12 bytes), a high bit per value.

void pack_q3k_scale(int j, int l, std::uint8_t (&scales)[12]) {  // l in 0..63
    if (j < 8)
        scales[j] = static_cast<std::uint8_t>(l & 0xF);
    else
        scales[j - 8] = static_cast<std::uint8_t>(scales[j - 8] | ((l & 0xF) << 4));
    scales[8 + j % 4] = static_cast<std::uint8_t>(scales[8 + j % 4] | ((l >> 4) << (2 * (j / 4))));
}

int q3k_scale(int j, const std::uint8_t (&scales)[12]) {
    const int low = j < 8 ? scales[j] & 0xF : scales[j - 8] >> 4;
    return (low | (((scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

// Codes again from the stored scales; the third bit goes to hmask (bit k of hmask[i] for value
// 32·k + i), the low two bits to qs.
void finish_q3k(const float* x, std::int8_t* L, BlockQ3K& y) {
    const float d_all = from_half(y.d);
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * static_cast<float>(q3k_scale(j, y.scales));
        if (d == 0)
            continue;
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = static_cast<std::int8_t>(clamp(nearest_int(x[16 * j + i] / d), -4, 3) + 4);
    }
    std::memset(y.hmask, 0, sizeof y.hmask);
    std::uint8_t low[kQK];
    for (int j = 0; j < kQK; ++j) {
        int l = L[j];
        if (l > 3) {
            y.hmask[j % 32] = static_cast<std::uint8_t>(y.hmask[j % 32] | (1 << (j / 32)));
            l -= 4;
        }
        low[j] = static_cast<std::uint8_t>(l);
    }
    pack_2bit(low, y.qs);
}

BlockQ3K q3_k_block(const float* x) {
    std::int8_t L[kQK];
    float scales[16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
        scales[j] = symmetric_refine_x2(16, 4, x + 16 * j, L + 16 * j);
        if (std::fabs(scales[j]) > amax) {
            amax = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    BlockQ3K y{};
    if (max_scale != 0) {
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; ++j) {
            const auto l = static_cast<std::int8_t>(nearest_int(iscale * scales[j]));  // as ggml's int8_t
            pack_q3k_scale(j, clamp(l, -32, 31) + 32, y.scales);
        }
        y.d = to_half(1 / iscale);
    } else {
        y.d = to_half(0.0f);
    }
    finish_q3k(x, L, y);
    return y;
}

BlockQ3K q3_k_weighted(const float* x, const float* importance) {
    std::int8_t L[kQK], Ls[16];
    float scales[16], weights[16], sw[16];
    const float sigma2 = 2 * sum_of_squares(kQK, x) / kQK;
    for (int j = 0; j < 16; ++j) {
        importance_weights(16, x + 16 * j, importance + 16 * j, sigma2, weights);
        sw[j] = sum_of(16, weights);
        scales[j] = symmetric_search(16, 4, x + 16 * j, L + 16 * j, weights);
    }
    BlockQ3K y{};
    const float d_block = symmetric_search(16, 32, scales, Ls, sw);
    for (int j = 0; j < 16; ++j)
        pack_q3k_scale(j, Ls[j], y.scales);
    y.d = to_half(d_block);
    finish_q3k(x, L, y);
    return y;
}

// ---- Q4_K and Q5_K: 8 groups of 32 with 6-bit scales and minimums packed in 12 bytes.

void pack_scale_min(int j, std::uint8_t ls, std::uint8_t lm, std::uint8_t (&scales)[12]) {
    if (j < 4) {
        scales[j] = ls;
        scales[j + 4] = lm;
    } else {
        scales[j + 4] = static_cast<std::uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        scales[j - 4] = static_cast<std::uint8_t>(scales[j - 4] | ((ls >> 4) << 6));
        scales[j] = static_cast<std::uint8_t>(scales[j] | ((lm >> 4) << 6));
    }
}

void unpack_scale_min(int j, const std::uint8_t (&q)[12], int& scale, int& min) {
    if (j < 4) {
        scale = q[j] & 63;
        min = q[j + 4] & 63;
    } else {
        scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// The codes (0..nmax) again from the stored scales and minimums.
template <class Block>
void requantize_scale_min(const float* x, int nmax, const Block& y, std::uint8_t* L) {
    const float d_all = from_half(y.d), m_all = from_half(y.dmin);
    for (int j = 0; j < 8; ++j) {
        int sc, m;
        unpack_scale_min(j, y.scales, sc, m);
        const float d = d_all * static_cast<float>(sc);
        if (d == 0)
            continue;
        const float dm = m_all * static_cast<float>(m);
        for (int i = 0; i < 32; ++i)
            L[32 * j + i] = static_cast<std::uint8_t>(clamp(nearest_int((x[32 * j + i] + dm) / d), 0, nmax));
    }
}

thread_local bool t_plain_search = false;  // set by PlainSearchScope

// The AVX2 lanes, unless the plain transcription was asked for (or the CPU lacks AVX2).
bool use_lanes() {
    return !t_plain_search && cpu_has_avx2();
}

// The reference search of both: weights mean|x| + |x| per group, then the group scales and
// minimums as 6-bit fractions of the largest.
template <class Block>
void scale_min_block(const float* x, int nmax, float rmin, float rdelta, int nstep, Block& y,
                     std::uint8_t* L) {
    std::uint8_t scratch[32];
    float weights[kQK], mins[8], scales[8];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        const float av_x = std::sqrt(sum_of_squares(32, x + 32 * j) / 32);
        for (int l = 0; l < 32; ++l)
            weights[32 * j + l] = av_x + std::fabs(x[32 * j + l]);
    }
    if (use_lanes())
        simd::asymmetric_search_x8(nmax, x, weights, L, scales, mins, rmin, rdelta, nstep, true);
    else
        for (int j = 0; j < 8; ++j)
            scales[j] = asymmetric_search(32, nmax, x + 32 * j, weights + 32 * j, L + 32 * j, &mins[j],
                                          scratch, rmin, rdelta, nstep, false, true);
    for (int j = 0; j < 8; ++j) {
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
        const auto ls = static_cast<std::uint8_t>(nearest_int(inv_scale * scales[j]));
        const auto lm = static_cast<std::uint8_t>(nearest_int(inv_min * mins[j]));
        pack_scale_min(j, std::min<std::uint8_t>(63, ls), std::min<std::uint8_t>(63, lm), y.scales);
    }
    y.d = to_half(max_scale / 63.0f);
    y.dmin = to_half(max_min / 63.0f);
    requantize_scale_min(x, nmax, y, L);
}

// The weighted search of both; `cap` is Q5_K's min(63, ·) on the packed codes, which Q4_K's
// weighted quantizer does not apply.
template <class Block>
void scale_min_weighted(const float* x, const float* importance, int nmax, bool cap, Block& y,
                        std::uint8_t* L) {
    std::uint8_t scratch[32], Ls[8], Lm[8];
    float weights[kQK], sw[8], mins[8], scales[8];
    const float sigma2 = 2 * sum_of_squares(kQK, x) / kQK;
    for (int j = 0; j < 8; ++j) {
        importance_weights(32, x + 32 * j, importance + 32 * j, sigma2, weights + 32 * j);
        sw[j] = sum_of(32, weights + 32 * j);
    }
    if (use_lanes())
        simd::asymmetric_search_x8(nmax, x, weights, L, scales, mins, -0.9f, 0.05f, 36, false);
    else
        for (int j = 0; j < 8; ++j)
            scales[j] = asymmetric_search(32, nmax, x + 32 * j, weights + 32 * j, L + 32 * j, &mins[j],
                                          scratch, -0.9f, 0.05f, 36, false, false);
    const float d_block = positive_search(8, 63, scales, Ls, sw);
    const float m_block = positive_search(8, 63, mins, Lm, sw);
    for (int j = 0; j < 8; ++j)
        pack_scale_min(j, cap ? std::min<std::uint8_t>(63, Ls[j]) : Ls[j],
                       cap ? std::min<std::uint8_t>(63, Lm[j]) : Lm[j], y.scales);
    y.d = to_half(d_block);
    y.dmin = to_half(m_block);
    requantize_scale_min(x, nmax, y, L);
}

void pack_q4k(const std::uint8_t* L, BlockQ4K& y) {
    std::uint8_t* q = y.qs;
    for (int j = 0; j < kQK; j += 64, q += 32)
        for (int l = 0; l < 32; ++l)
            q[l] = static_cast<std::uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

// Q5_K: low nibbles as Q4_K; the fifth bit of value 64·k + l in bit 2k of qh[l], of value
// 64·k + 32 + l in bit 2k + 1.
void pack_q5k(const std::uint8_t* L, BlockQ5K& y) {
    std::memset(y.qh, 0, sizeof y.qh);
    std::uint8_t* ql = y.qs;
    for (int n = 0, k = 0; n < kQK; n += 64, ++k, ql += 32)
        for (int j = 0; j < 32; ++j) {
            int l1 = L[n + j], l2 = L[n + j + 32];
            if (l1 > 15) {
                l1 -= 16;
                y.qh[j] = static_cast<std::uint8_t>(y.qh[j] | (1 << (2 * k)));
            }
            if (l2 > 15) {
                l2 -= 16;
                y.qh[j] = static_cast<std::uint8_t>(y.qh[j] | (2 << (2 * k)));
            }
            ql[j] = static_cast<std::uint8_t>(l1 | (l2 << 4));
        }
}

BlockQ4K q4_k_block(const float* x, const float* importance) {
    BlockQ4K y{};
    std::uint8_t L[kQK];
    if (importance)
        scale_min_weighted(x, importance, 15, false, y, L);
    else
        scale_min_block(x, 15, -1.0f, 0.1f, 20, y, L);
    pack_q4k(L, y);
    return y;
}

BlockQ5K q5_k_block(const float* x, const float* importance) {
    BlockQ5K y{};
    std::uint8_t L[kQK];
    if (importance)
        scale_min_weighted(x, importance, 31, true, y, L);
    else
        scale_min_block(x, 31, -0.5f, 0.1f, 15, y, L);
    pack_q5k(L, y);
    return y;
}

// ---- Q6_K: 16 groups of 16 with int8 scales; weighted by the importance alone when given.

BlockQ6K q6_k_block(const float* x, const float* importance) {
    std::int8_t L[kQK];
    float scales[16];
    float max_scale = 0, max_abs_scale = 0;
    if (use_lanes())
        for (int half = 0; half < 2; ++half)
            simd::symmetric_search16_x8(32, x + 128 * half, importance ? importance + 128 * half : nullptr,
                                        L + 128 * half, scales + 8 * half);
    else
        for (int j = 0; j < 16; ++j)
            scales[j] =
                symmetric_search(16, 32, x + 16 * j, L + 16 * j, importance ? importance + 16 * j : nullptr);
    for (int j = 0; j < 16; ++j) {
        if (std::fabs(scales[j]) > max_abs_scale) {
            max_abs_scale = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    BlockQ6K y{};
    if (max_abs_scale < 1e-15f) {  // GROUP_MAX_EPS: an all-zero super-block is all zero bytes
        y.d = to_half(0.0f);
        return y;
    }
    const float iscale = -128.0f / max_scale;
    y.d = to_half(1 / iscale);
    for (int j = 0; j < 16; ++j)
        y.scales[j] = static_cast<std::int8_t>(std::min(127, nearest_int(iscale * scales[j])));
    const float d_all = from_half(y.d);
    for (int j = 0; j < 16; ++j) {
        const float d = d_all * static_cast<float>(y.scales[j]);
        if (d == 0)
            continue;
        for (int i = 0; i < 16; ++i)
            L[16 * j + i] = static_cast<std::int8_t>(clamp(nearest_int(x[16 * j + i] / d), -32, 31) + 32);
    }
    // Value 32·k + l of each 128: low nibble in ql[l] (k = 0, 2: low/high half of the byte) or
    // ql[32 + l] (k = 1, 3); its two high bits in bits 2k of qh[l].
    std::uint8_t* ql = y.ql;
    std::uint8_t* qh = y.qh;
    for (int j = 0; j < kQK; j += 128, ql += 64, qh += 32)
        for (int l = 0; l < 32; ++l) {
            const int q[4] = {L[j + l], L[j + l + 32], L[j + l + 64], L[j + l + 96]};
            ql[l] = static_cast<std::uint8_t>((q[0] & 0xF) | ((q[2] & 0xF) << 4));
            ql[l + 32] = static_cast<std::uint8_t>((q[1] & 0xF) | ((q[3] & 0xF) << 4));
            qh[l] = static_cast<std::uint8_t>((q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) |
                                              ((q[3] >> 4) << 6));
        }
    return y;
}

// ---- IQ4_NL (one group of 32) and IQ4_XS (8 groups of 32 under a 6-bit scale): the 16
// non-linear levels kIq4Levels, the scale searched over ±7 steps around max/−127.

// One super-block of `values` (32 or 256). Writes the half scale, the packed nibbles and, for
// IQ4_XS, the 6-bit group scales.
void iq4_superblock(int values, const float* x, const float* importance, Half& d_out, std::uint8_t* qs,
                    std::uint16_t* scales_h, std::uint8_t* scales_l) {
    constexpr int kTries = 7;
    const std::int8_t* levels = kIq4Levels;
    const int groups = values / 32;
    std::uint8_t L[kQK];
    float scales[8], weight[32];
    const float sigma2 =
        sum_of_squares(static_cast<std::size_t>(values), x) * (2.0f / static_cast<float>(values));
    std::memset(qs, 0, static_cast<std::size_t>(values / 2));
    d_out = to_half(0.0f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < groups; ++ib) {
        const float* xb = x + 32 * ib;
        std::uint8_t* Lb = L + 32 * ib;
        if (importance)
            importance_weights(32, xb, importance + 32 * ib, sigma2, weight);
        else
            for (int j = 0; j < 32; ++j)
                weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < 32; ++j)
            if (std::fabs(xb[j]) > amax) {
                amax = std::fabs(xb[j]);
                max = xb[j];
            }
        if (amax < 1e-15f) {
            scales[ib] = 0;
            continue;
        }
        // Σw·q·x and Σw·q² over the group for one inverse scale; fills codes when asked.
        auto fit = [&](float id, float& sumqx, float& sumq2, std::uint8_t* codes) {
            sumqx = sumq2 = 0;
            for (int j = 0; j < 32; ++j) {
                const int l = nearest_level(16, levels, id * xb[j]);
                if (codes)
                    codes[j] = static_cast<std::uint8_t>(l);
                const float q = levels[l], w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
        };
        // The first fit (whose codes are kept), then 2·kTries + 1 trial scales: sixteen fits,
        // side by side in AVX2 lanes when there are lanes (the same sums, in the same order).
        float inverse[2 * kTries + 2], sumqx[2 * kTries + 2], sumq2[2 * kTries + 2];
        inverse[0] = 1 / (-max / static_cast<float>(levels[0]));
        for (int step = -kTries; step <= kTries; ++step)
            inverse[step + kTries + 1] = static_cast<float>(step + levels[0]) / max;
        if (use_lanes()) {
            simd::iq4_fits_x16(levels, xb, weight, inverse, sumqx, sumq2);
            simd::iq4_codes_x8(levels, inverse[0], xb, Lb, 32);
        } else {
            fit(inverse[0], sumqx[0], sumq2[0], Lb);
            for (int t = 1; t < 2 * kTries + 2; ++t)
                fit(inverse[t], sumqx[t], sumq2[t], nullptr);
        }
        float d = sumq2[0] > 0 ? sumqx[0] / sumq2[0] : 0.0f;
        float best = d * sumqx[0];
        for (int t = 1; t < 2 * kTries + 2; ++t)
            if (sumq2[t] > 0 && sumqx[t] * sumqx[t] > best * sumq2[t]) {
                d = sumqx[t] / sumq2[t];
                best = d * sumqx[t];
            }
        scales[ib] = d;
        if (std::fabs(d) > amax_scale) {
            amax_scale = std::fabs(d);
            max_scale = d;
        }
    }
    if (groups > 1) {
        *scales_h = 0;
        const float d = -max_scale / 32;
        d_out = to_half(d);
        const float id = d != 0 ? 1 / d : 0.0f;
        for (int ib = 0; ib < groups; ++ib) {
            const int l = clamp(nearest_int(id * scales[ib]), -32, 31);
            const float dl = d * static_cast<float>(l);
            const float idl = dl != 0 ? 1 / dl : 0.0f;
            if (use_lanes())
                simd::iq4_codes_x8(levels, idl, x + 32 * ib, L + 32 * ib, 32);
            else
                for (int j = 0; j < 32; ++j)
                    L[32 * ib + j] =
                        static_cast<std::uint8_t>(nearest_level(16, levels, idl * x[32 * ib + j]));
            const int stored = l + 32;
            if (ib % 2 == 0)
                scales_l[ib / 2] = static_cast<std::uint8_t>(stored & 0xF);
            else
                scales_l[ib / 2] = static_cast<std::uint8_t>(scales_l[ib / 2] | ((stored & 0xF) << 4));
            *scales_h = static_cast<std::uint16_t>(*scales_h | ((stored >> 4) << (2 * ib)));
        }
    } else {
        d_out = to_half(scales[0]);
        const float id = scales[0] != 0 ? 1 / scales[0] : 0.0f;
        if (use_lanes())
            simd::iq4_codes_x8(levels, id, x, L, 32);
        else
            for (int j = 0; j < 32; ++j)
                L[j] = static_cast<std::uint8_t>(nearest_level(16, levels, id * x[j]));
    }
    for (int i = 0; i < values / 32; ++i)
        for (int j = 0; j < 16; ++j)
            qs[16 * i + j] = static_cast<std::uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

BlockIQ4NL iq4_nl_block(const float* x, const float* importance) {
    BlockIQ4NL y{};
    iq4_superblock(32, x, importance, y.d, y.qs, nullptr, nullptr);
    return y;
}

BlockIQ4XS iq4_xs_block(const float* x, const float* importance) {
    BlockIQ4XS y{};
    std::uint16_t scales_h = 0;
    iq4_superblock(kQK, x, importance, y.d, y.qs, &scales_h, y.scales_l);
    y.scales_h = scales_h;
    return y;
}

// ---- TQ1_0 and TQ2_0: ternary codes round(x / max|x|) ∈ {−1, 0, 1}; importance is not used.

int ternary(float x, float id) {
    return static_cast<int>(std::lround(x * id)) + 1;  // C's lroundf: half away from zero
}

float absmax_scale(const float* x) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j)
        amax = amax > std::fabs(x[j]) ? amax : std::fabs(x[j]);
    return amax;
}

// Five trits (the first most significant) as a byte: ⌈t · 256 / 243⌉ of their base-3 number.
std::uint8_t trit_byte(std::uint8_t number) {
    return static_cast<std::uint8_t>((static_cast<std::uint16_t>(number) * 256 + 242) / 243);
}

BlockTQ1_0 tq1_0_block(const float* x) {
    const float d = absmax_scale(x);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockTQ1_0 y{};
    y.d = to_half(d);
    // Bytes 0-31 hold values 32·n + m (n = 0..4) of the first 160, bytes 32-47 values 16·n + m
    // of the next 80, qh the last 16 four to a byte (value j + 4·m), shifted up one trit.
    auto pack = [&](int bytes, int stride, std::uint8_t* out) {
        for (int m = 0; m < bytes; ++m) {
            std::uint8_t number = 0;
            for (int n = 0; n < 5; ++n)
                number = static_cast<std::uint8_t>(number * 3 + ternary(x[m + n * stride], id));
            out[m] = trit_byte(number);
        }
    };
    pack(32, 32, y.qs);
    x += 160;
    pack(16, 16, y.qs + 32);
    x += 80;
    for (int j = 0; j < 4; ++j) {
        std::uint8_t number = 0;
        for (int m = 0; m < 4; ++m)
            number = static_cast<std::uint8_t>(number * 3 + ternary(x[j + m * 4], id));
        y.qh[j] = trit_byte(static_cast<std::uint8_t>(number * 3));
    }
    return y;
}

BlockTQ2_0 tq2_0_block(const float* x) {
    const float d = absmax_scale(x);
    const float id = d != 0 ? 1.0f / d : 0.0f;
    BlockTQ2_0 y{};
    y.d = to_half(d);
    for (int j = 0; j < 64; j += 32, x += 128)
        for (int m = 0; m < 32; ++m) {
            int q = 0;
            for (int n = 0; n < 4; ++n)
                q += (ternary(x[m + n * 32], id) & 3) << (2 * n);
            y.qs[j + m] = static_cast<std::uint8_t>(q);
        }
    return y;
}

// ---- The legacy 32-value types with importance (their plain versions are in ggml_quantizer).

template <class Block>
void pack_nibbles(const std::uint8_t* L, Block& y) {
    for (int j = 0; j < 16; ++j)
        y.qs[j] = static_cast<std::uint8_t>(L[j] | (L[j + 16] << 4));
}

template <class Block>
void pack_five(const std::uint8_t* L, Block& y) {
    std::uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) {
        y.qs[j] = static_cast<std::uint8_t>((L[j] & 0x0F) | ((L[j + 16] & 0x0F) << 4));
        qh |= static_cast<std::uint32_t>((L[j] & 0x10u) >> 4) << j;
        qh |= static_cast<std::uint32_t>((L[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(y.qh, &qh, sizeof qh);
}

// One row of a legacy type with importance: σ² is the row's mean square.
template <class Block>
void legacy_weighted_row(const float* x, std::size_t n, const float* importance, std::uint8_t* out) {
    const float sigma2 = sum_of_squares(n, x) / static_cast<float>(n);
    float weight[32];
    for (std::size_t ib = 0; ib < n / 32; ++ib) {
        const float* xb = x + 32 * ib;
        importance_weights(32, xb, importance + 32 * ib, sigma2, weight);
        Block y{};
        if constexpr (std::is_same_v<Block, BlockQ4_0> || std::is_same_v<Block, BlockQ5_0>) {
            constexpr int nmax = std::is_same_v<Block, BlockQ4_0> ? 8 : 16;
            std::int8_t L[32];
            y.d = to_half(symmetric_search(32, nmax, xb, L, weight));
            std::uint8_t codes[32];
            for (int j = 0; j < 32; ++j)
                codes[j] = static_cast<std::uint8_t>(L[j]);
            if constexpr (nmax == 8)
                pack_nibbles(codes, y);
            else
                pack_five(codes, y);
        } else {
            constexpr int nmax = std::is_same_v<Block, BlockQ4_1> ? 15 : 31;
            std::uint8_t L[32], scratch[32];
            float min;
            const float d =
                asymmetric_search(32, nmax, xb, weight, L, &min, scratch, -0.9f, 0.05f, 36, false, false);
            y.d = to_half(d);
            y.m = to_half(-min);
            if constexpr (nmax == 15)
                pack_nibbles(L, y);
            else
                pack_five(L, y);
        }
        store_block(y, out, ib);
    }
}

// Runs a per-block function over the blocks of `values` values; `importance` (per column,
// repeating every n_per_row values) may be null.
template <class Block, class Function>
void block_rows(const float* x, std::size_t values, std::size_t n_per_row, const float* importance,
                std::uint8_t* out, Function block_function) {
    const std::size_t per_block = std::is_same_v<Block, BlockIQ4NL> ? kBlockValues : kSuperBlockValues;
    for (std::size_t b = 0; b < values / per_block; ++b) {
        const float* w = importance ? importance + (b * per_block) % n_per_row : nullptr;
        store_block(block_function(x + b * per_block, w), out, b);
    }
}

}  // namespace

PlainSearchScope::PlainSearchScope() : previous_(t_plain_search) {
    t_plain_search = true;
}
PlainSearchScope::~PlainSearchScope() {
    t_plain_search = previous_;
}

bool quantizes_superblocks(DType type) {
    switch (type) {
        case DType::Q2_K:
        case DType::Q3_K:
        case DType::Q4_K:
        case DType::Q5_K:
        case DType::Q6_K:
        case DType::IQ4_NL:
        case DType::IQ4_XS:
        case DType::TQ1_0:
        case DType::TQ2_0: return true;
        default: return is_grid_iquant(type);
    }
}

void quantize_rows_weighted(DType type, const float* x, std::size_t values, std::size_t n_per_row,
                            const float* importance, std::uint8_t* out, std::size_t first_row) {
    auto without = [](auto function) {
        return [function](const float* block, const float*) {
            return function(block);
        };
    };
    const bool weighted = importance != nullptr;
    switch (type) {
        case DType::Q2_K:
            return weighted ? block_rows<BlockQ2K>(x, values, n_per_row, importance, out, q2_k_weighted)
                            : block_rows<BlockQ2K>(x, values, n_per_row, nullptr, out, without(q2_k_block));
        case DType::Q3_K:
            return weighted ? block_rows<BlockQ3K>(x, values, n_per_row, importance, out, q3_k_weighted)
                            : block_rows<BlockQ3K>(x, values, n_per_row, nullptr, out, without(q3_k_block));
        case DType::Q4_K: return block_rows<BlockQ4K>(x, values, n_per_row, importance, out, q4_k_block);
        case DType::Q5_K: return block_rows<BlockQ5K>(x, values, n_per_row, importance, out, q5_k_block);
        case DType::Q6_K: return block_rows<BlockQ6K>(x, values, n_per_row, importance, out, q6_k_block);
        case DType::IQ4_NL:
            return block_rows<BlockIQ4NL>(x, values, n_per_row, importance, out, iq4_nl_block);
        case DType::IQ4_XS:
            return block_rows<BlockIQ4XS>(x, values, n_per_row, importance, out, iq4_xs_block);
        case DType::TQ1_0:
            return block_rows<BlockTQ1_0>(x, values, n_per_row, nullptr, out, without(tq1_0_block));
        case DType::TQ2_0:
            return block_rows<BlockTQ2_0>(x, values, n_per_row, nullptr, out, without(tq2_0_block));
        default: break;
    }
    if (is_grid_iquant(type)) {
        const std::size_t bytes = dtype_info(type).block_bytes;
        for (std::size_t b = 0; b < values / kSuperBlockValues; ++b) {
            const float* w = weighted ? importance + (b * kSuperBlockValues) % n_per_row : nullptr;
            try {
                quantize_grid_superblock(type, x + b * kSuperBlockValues, w, out + b * bytes);
            } catch (const std::domain_error& error) {  // where ggml would abort
                const std::size_t first = b * kSuperBlockValues % n_per_row;
                throw Error("", std::string(dtype_name(type)),
                            "values " + std::to_string(first) + ".." + std::to_string(first + 255) +
                                " of row " + std::to_string(first_row + b * kSuperBlockValues / n_per_row) +
                                ": " + error.what());
            }
        }
        return;
    }
    if (!weighted)
        throw std::invalid_argument(
            "quantize_rows_weighted: the legacy types without importance are in ggml_quantizer");
    const std::size_t row_bytes = n_per_row / 32 * dtype_info(type).block_bytes;
    for (std::size_t row = 0; row < values / n_per_row; ++row, x += n_per_row, out += row_bytes) {
        switch (type) {
            case DType::Q4_0: legacy_weighted_row<BlockQ4_0>(x, n_per_row, importance, out); break;
            case DType::Q4_1: legacy_weighted_row<BlockQ4_1>(x, n_per_row, importance, out); break;
            case DType::Q5_0: legacy_weighted_row<BlockQ5_0>(x, n_per_row, importance, out); break;
            case DType::Q5_1: legacy_weighted_row<BlockQ5_1>(x, n_per_row, importance, out); break;
            default: throw std::invalid_argument("quantize_rows_weighted: not a ggml type QuantLens writes");
        }
    }
}

float block_scale(DType type, const std::uint8_t* block) {
    std::size_t offset = 0;  // the legacy types, Q4_K, Q5_K and the IQ4 types start with d
    switch (type) {
        case DType::Q2_K: offset = offsetof(BlockQ2K, d); break;
        case DType::Q3_K: offset = offsetof(BlockQ3K, d); break;
        case DType::Q6_K: offset = offsetof(BlockQ6K, d); break;
        case DType::TQ1_0: offset = offsetof(BlockTQ1_0, d); break;
        case DType::TQ2_0: offset = offsetof(BlockTQ2_0, d); break;
        case DType::IQ1_M: return from_half(iq1m_scale_bits(load_block<BlockIQ1M>(block, 0).scales));
        default: break;  // the grid i-quants but IQ1_M start with d
    }
    Half bits;
    std::memcpy(&bits, block + offset, sizeof bits);
    return from_half(bits);
}

std::vector<float> first_group_levels(DType type, const std::uint8_t* block) {
    std::vector<float> levels;
    auto affine = [&](float step, float offset, int codes) {  // step·q − offset, q = 0 … codes−1
        for (int q = 0; q < codes; ++q)
            levels.push_back(step * static_cast<float>(q) - offset);
    };
    switch (type) {
        case DType::Q2_K: {
            const auto y = load_block<BlockQ2K>(block, 0);
            affine(from_half(y.d) * static_cast<float>(y.scales[0] & 0xF),
                   from_half(y.dmin) * static_cast<float>(y.scales[0] >> 4), 4);
            break;
        }
        case DType::Q3_K: {
            const auto y = load_block<BlockQ3K>(block, 0);
            const float d = from_half(y.d) * static_cast<float>(q3k_scale(0, y.scales));
            affine(d, 4 * d, 8);
            break;
        }
        case DType::Q4_K:
        case DType::Q5_K: {
            const auto y = load_block<BlockQ4K>(block, 0);  // Q5_K's header is laid out alike
            int sc, m;
            unpack_scale_min(0, y.scales, sc, m);
            affine(from_half(y.d) * static_cast<float>(sc), from_half(y.dmin) * static_cast<float>(m),
                   type == DType::Q4_K ? 16 : 32);
            break;
        }
        case DType::Q6_K: {
            const auto y = load_block<BlockQ6K>(block, 0);
            const float d = from_half(y.d) * static_cast<float>(y.scales[0]);
            affine(d, 32 * d, 64);
            break;
        }
        case DType::IQ4_NL:
        case DType::IQ4_XS: {
            float d = block_scale(type, block);
            if (type == DType::IQ4_XS) {
                const auto y = load_block<BlockIQ4XS>(block, 0);
                d *= static_cast<float>(((y.scales_l[0] & 0xF) | ((y.scales_h & 3) << 4)) - 32);
            }
            for (const auto level : kIq4Levels)
                levels.push_back(d * static_cast<float>(level));
            break;
        }
        case DType::TQ1_0:
        case DType::TQ2_0: affine(block_scale(type, block), block_scale(type, block), 3); break;
        default: return grid_first_levels(type, block);
    }
    return levels;
}

}  // namespace quantlens::ggml

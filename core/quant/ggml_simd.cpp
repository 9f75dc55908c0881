// AVX2 versions of the Q8_0 and Q4_0 reference quantizers, byte-identical to them:
// the same float operations in the same order per element (x * id with id = 1/d computed
// as the reference does), C roundf as trunc(v + copysign(0.49999997f, v)), and the int8
// casts as truncating conversions. Tests compare them with the reference on every path.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tensor/convert.hpp"
#include "tensor/ggml_block_types.hpp"

namespace quantlens::simd {

namespace {

__attribute__((target("avx2,fma,f16c"))) inline float horizontal_max(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

using ggml::BlockQ4_0;
using ggml::BlockQ8_0;

// A block's scale d, at its place in the block's layout.
template <class Block>
void put_scale(std::uint8_t* block, float d) {
    const ggml::Half bits = f32_to_f16(d);
    std::memcpy(block + offsetof(Block, d), &bits, sizeof bits);
}

}  // namespace

__attribute__((target("avx2,fma,f16c"))) void q8_0_blocks_avx2(const float* x, std::uint8_t* y,
                                                               std::size_t blocks) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    const __m256 almost_half = _mm256_set1_ps(0.49999997f);  // nextafter(0.5f, 0)
    for (std::size_t b = 0; b < blocks; ++b, x += 32, y += sizeof(BlockQ8_0)) {
        __m256 v[4];
        for (int k = 0; k < 4; ++k)
            v[k] = _mm256_loadu_ps(x + 8 * k);
        __m256 m = _mm256_max_ps(
            _mm256_max_ps(_mm256_andnot_ps(sign_mask, v[0]), _mm256_andnot_ps(sign_mask, v[1])),
            _mm256_max_ps(_mm256_andnot_ps(sign_mask, v[2]), _mm256_andnot_ps(sign_mask, v[3])));
        const float amax = horizontal_max(m);
        const float d = amax / 127;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_scale<BlockQ8_0>(y, d);
        const __m256 scale = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; ++k) {
            __m256 scaled = _mm256_mul_ps(v[k], scale);
            __m256 offset =
                _mm256_or_ps(_mm256_and_ps(scaled, sign_mask), almost_half);  // copysign(0.49999997, v)
            q[k] = _mm256_cvttps_epi32(_mm256_add_ps(scaled, offset));
        }
        for (int k = 0; k < 4; k += 2) {  // int32 -> int8, keeping element order
            __m128i lo = _mm_packs_epi32(_mm256_castsi256_si128(q[k]), _mm256_extracti128_si256(q[k], 1));
            __m128i hi =
                _mm_packs_epi32(_mm256_castsi256_si128(q[k + 1]), _mm256_extracti128_si256(q[k + 1], 1));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(y + offsetof(BlockQ8_0, qs) + 8 * k),
                             _mm_packs_epi16(lo, hi));
        }
    }
}

__attribute__((target("avx2,fma,f16c"))) void q4_0_blocks_avx2(const float* x, std::uint8_t* y,
                                                               std::size_t blocks) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    const __m256 eight_and_half = _mm256_set1_ps(8.5f);
    const __m256i fifteen = _mm256_set1_epi32(15);
    for (std::size_t b = 0; b < blocks; ++b, x += 32, y += sizeof(BlockQ4_0)) {
        __m256 v[4], a[4];
        for (int k = 0; k < 4; ++k) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            a[k] = _mm256_andnot_ps(sign_mask, v[k]);
        }
        const float amax =
            horizontal_max(_mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3])));
        // The reference keeps the first element of largest magnitude, with its sign.
        const __m256 target = _mm256_set1_ps(amax);
        std::uint32_t mask = 0;
        for (int k = 0; k < 4; ++k)
            mask |= static_cast<std::uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(a[k], target, _CMP_EQ_OQ)))
                    << (8 * k);
        const float max = amax > 0 ? x[__builtin_ctz(mask)] : 0.0f;
        const float d = max / -8;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_scale<BlockQ4_0>(y, d);
        const __m256 scale = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; ++k)
            q[k] = _mm256_min_epi32(
                fifteen, _mm256_cvttps_epi32(_mm256_add_ps(_mm256_mul_ps(v[k], scale), eight_and_half)));
        // byte j = q[j] | q[j + 16] << 4
        __m256i low = _mm256_or_si256(q[0], _mm256_slli_epi32(q[2], 4));   // j = 0..7
        __m256i high = _mm256_or_si256(q[1], _mm256_slli_epi32(q[3], 4));  // j = 8..15
        __m128i w0 = _mm_packus_epi32(_mm256_castsi256_si128(low), _mm256_extracti128_si256(low, 1));
        __m128i w1 = _mm_packus_epi32(_mm256_castsi256_si128(high), _mm256_extracti128_si256(high, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + offsetof(BlockQ4_0, qs)), _mm_packus_epi16(w0, w1));
    }
}

}  // namespace quantlens::simd

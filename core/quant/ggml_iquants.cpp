#include "quant/ggml_iquants.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "quant/ggml_grid_search.hpp"
#include "quant/ggml_scale_search.hpp"
#include "tensor/convert.hpp"
#include "tensor/ggml_block_types.hpp"
#include "tensor/ggml_iq_grids.hpp"

namespace quantlens::ggml {

namespace {

constexpr int kQK = 256;

// ggml's thresholds below which a group counts as all zero (GROUP_MAX_EPS and its variants).
constexpr float kEps = 1e-15f, kEpsIq3xxs = 1e-8f, kEpsIq2s = 1e-8f, kEpsIq1s = 1e-12f, kEpsIq1m = 1e-7f;

Half half(float value) {
    return f32_to_f16(value);
}
float from_half(Half bits) {
    return f16_to_f32(bits);
}
// The half d at the start of a block (every grid i-quant but IQ1_M).
float from_half_bits(const std::uint8_t* block) {
    return from_half(le16(block));
}

float max_of(const float* x, int n) {  // ggml's MAX(a, b) fold
    float max = x[0];
    for (int i = 1; i < n; ++i)
        max = max > x[i] ? max : x[i];
    return max;
}

// A group's weights, importance·√(σ² + x²) or, without importance, x² (IQ3, IQ1_M), and their
// square roots (what the neighbour searches weigh by).
void weights_or_squares(const float* x, const float* importance, float sigma2, int n, float* weight,
                        float* waux) {
    if (importance)
        importance_weights(n, x, importance, sigma2, weight);
    else
        for (int i = 0; i < n; ++i)
            weight[i] = x[i] * x[i];
    if (waux)
        for (int i = 0; i < n; ++i)
            waux[i] = std::sqrt(weight[i]);
}

// Folds 8 values to magnitudes keeping an even number of negatives (the sign pattern then fits
// in 7 bits): when the count is odd, the value of least w·x² enters negated instead. Returns
// the 7 stored sign bits.
std::uint8_t fold_even(const float* x, const float* weight, float* xval) {
    int flips = 0;
    std::uint8_t signs = 0;
    for (int i = 0; i < 8; ++i) {
        if (x[i] >= 0) {
            xval[i] = x[i];
        } else {
            xval[i] = -x[i];
            ++flips;
            signs |= static_cast<std::uint8_t>(1 << i);
        }
    }
    if (flips % 2) {
        int least = 0;
        float min = weight[0] * x[0] * x[0];
        for (int i = 1; i < 8; ++i) {
            const float ax = weight[i] * x[i] * x[i];
            if (ax < min) {
                min = ax;
                least = i;
            }
        }
        xval[least] = -xval[least];
        signs ^= static_cast<std::uint8_t>(1 << least);
    }
    return signs & 127;
}

// Folds 8 values to magnitudes; returns the full sign byte (IQ2_S, IQ3_S).
std::uint8_t fold_all(const float* x, float* xval) {
    std::uint8_t signs = 0;
    for (int i = 0; i < 8; ++i) {
        xval[i] = x[i] >= 0 ? x[i] : -x[i];
        if (!(x[i] >= 0))
            signs |= static_cast<std::uint8_t>(1 << i);
    }
    return signs;
}

[[noreturn]] void cannot_place() {
    throw std::domain_error(
        "no codebook point gives a finite error for a group (values or weights too large)");
}

// Level indices of a group for inverse scale id: round(½(id·x − 1)) clamped to 0..kmax−1.
void nearest_levels(const float* xval, int values, float id, int kmax, std::int8_t* L) {
    for (int i = 0; i < values; ++i) {
        const int l = nearest_int(0.5f * (id * xval[i] - 1));
        L[i] = static_cast<std::int8_t>(std::max(0, std::min(kmax - 1, l)));
    }
}

// Snaps group L to the codebook: its own point when u is one, else the best neighbour (which
// rewrites L). Returns the point and whether L was on the grid.
int snap(const GridSearch& grid, const float* xval, const float* waux, float scale, std::int8_t* L,
         bool* on) {
    const unsigned u = pack_levels(L, grid.values(), grid.bits());
    int index = grid.on_grid(u);
    *on = index >= 0;
    if (index < 0 && (index = best_neighbour(grid, u, xval, waux, scale, L)) < 0)
        cannot_place();
    return index;
}

// Σ w·x·q and Σ w·q² with q = 2·level + 1.
void level_sums(const float* weight, const float* xval, const std::int8_t* L, int n, float& sumqx,
                float& sumq2) {
    sumqx = sumq2 = 0;
    for (int i = 0; i < n; ++i) {
        const float w = weight[i], q = static_cast<float>(2 * L[i] + 1);
        sumqx += w * xval[i] * q;
        sumq2 += w * q * q;
    }
}

// How a sub-block's scale search ends, the one place the 2- and 3-bit quantizers differ in it.
struct Search {
    int kmax;   // levels 0..kmax−1 (3 for the 2-bit grids, 8 for the 3-bit ones)
    int steps;  // trial scales (2·kmax − 1 + step·s)/reference for s = −steps..steps
    float step;
    bool refit_all;  // the final refit re-snaps every group, not only those off the grid
    bool gated;      // the refit runs only when a group was off the grid (always, else)
    bool start_on;   // groups count as on the grid before any trial is kept
};

// The trial-scale search of IQ2_XXS/XS/S and IQ3_XXS/S over one sub-block of n folded values:
// returns the fitted scale, L holding levels on the grid.
float fit_on_grid(const GridSearch& grid, const Search& search, int n, const float* xval, const float* weight,
                  const float* waux, float reference, float scale, std::int8_t* L) {
    const int g = grid.values(), groups = n / g;
    std::int8_t Laux[32];
    bool on[8], on_aux[8];
    std::fill(on, on + groups, search.start_on);
    std::fill(L, L + n, std::int8_t{0});
    float best = 0;
    for (int s = -search.steps; s <= search.steps; ++s) {
        const float id =
            (static_cast<float>(2 * search.kmax - 1) + static_cast<float>(s) * search.step) / reference;
        const float this_scale = 1 / id;
        for (int k = 0; k < groups; ++k) {
            nearest_levels(xval + g * k, g, id, search.kmax, Laux + g * k);
            snap(grid, xval + g * k, waux + g * k, this_scale, Laux + g * k, &on_aux[k]);
        }
        float sumqx, sumq2;
        level_sums(weight, xval, Laux, n, sumqx, sumq2);
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            scale = sumqx / sumq2;
            best = scale * sumqx;
            std::copy(Laux, Laux + n, L);
            std::copy(on_aux, on_aux + groups, on);
        }
    }
    const bool any_off = std::find(on, on + groups, false) != on + groups;
    if ((any_off || !search.gated) && scale > 0) {
        const float id = 1 / scale;
        for (int k = 0; k < groups; ++k) {
            if (on[k] && !search.refit_all)
                continue;
            bool ignored;
            nearest_levels(xval + g * k, g, id, search.kmax, L + g * k);
            snap(grid, xval + g * k, waux + g * k, scale, L + g * k, &ignored);
        }
        float sumqx, sumq2;
        level_sums(weight, xval, L, n, sumqx, sumq2);
        if (sumq2 > 0)
            scale = sumqx / sumq2;
    }
    return scale;
}

// The point of a group whose levels are on the grid (as every search leaves them).
int point_of(const GridSearch& grid, const std::int8_t* L) {
    const int index = grid.on_grid(pack_levels(L, grid.values(), grid.bits()));
    if (index < 0)
        throw std::logic_error("grid i-quant: a group's levels are off the codebook after snapping");
    return index;
}

// A sub-block scale's 4-bit code for super-block inverse scale id: round(½(id·s − 1)).
int scale_code(float id, float scale, int max_code) {
    return std::max(0, std::min(max_code, nearest_int(0.5f * (id * scale - 1))));
}

void store_le32(std::uint8_t* p, std::uint32_t v) {
    for (int i = 0; i < 4; ++i)
        p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void store_le16(std::uint8_t* p, unsigned v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}

constexpr Search kIq2xxsSearch{3, 6, 0.1f, true, false, true};
constexpr Search kIq2Search{3, 9, 0.1f, false, true, true};  // IQ2_XS, IQ2_S
constexpr Search kIq3xxsSearch{8, 15, 0.2f, false, true, true};
constexpr Search kIq3sSearch{8, 9, 0.2f, true, true, false};

// ---- IQ2_XXS: 8 sub-blocks of 32, 4 groups of 8 each; importance required.
BlockIQ2XXS iq2_xxs(const float* x, const float* importance) {
    const auto& grid = GridSearch::get(GridKind::Iq2xxs);
    BlockIQ2XXS y{};
    std::uint32_t q2[16] = {};
    float scales[8], weight[32], waux[32], xval[32];
    std::int8_t L[32];
    const float sigma2 = sum_of_squares(kQK, x) / kQK;
    float max_scale = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = x + 32 * ib;
        importance_weights(32, xb, importance + 32 * ib, sigma2, weight);
        for (int i = 0; i < 32; ++i)
            waux[i] = std::sqrt(weight[i]);
        std::uint8_t signs[4];
        for (int k = 0; k < 4; ++k)
            signs[k] = fold_even(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        scales[ib] = 0;
        if (max_of(xval, 32) < kEps)
            continue;
        std::uint8_t Lq[32];
        float scale = positive_search(32, 4, xval, Lq, weight);
        const float eff_max = scale * 3;
        if (eff_max <= 0)
            continue;
        scale = fit_on_grid(grid, kIq2xxsSearch, 32, xval, weight, waux, eff_max, scale, L);
        if (scale < 0) {
            scale = -scale;
            for (auto& s : signs)
                s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 4; ++k) {
            q2[2 * ib] |= static_cast<std::uint32_t>(point_of(grid, L + 8 * k)) << (8 * k);
            q2[2 * ib + 1] |= static_cast<std::uint32_t>(signs[k]) << (7 * k);
        }
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    if (max_scale == 0)
        return y;  // d = 0 and every code 0
    const float d = max_scale / 31;
    y.d = half(d);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib)
        q2[2 * ib + 1] |= static_cast<std::uint32_t>(scale_code(id, scales[ib], 15)) << 28;
    for (int w = 0; w < 16; ++w)
        store_le32(y.qs + 4 * w, q2[w]);
    return y;
}

// ---- IQ2_XS and IQ2_S: 16 sub-blocks of 16, 2 groups of 8 each.
template <class Block>
Block iq2_xs_or_s(const float* x, const float* importance) {
    constexpr bool xs = std::is_same_v<Block, BlockIQ2XS>;
    const auto& grid = GridSearch::get(xs ? GridKind::Iq2xs : GridKind::Iq2s);
    Block y{};
    float scales[16], weight[16], waux[16], xval[16];
    std::int8_t L[16];
    const float sigma2 = xs ? sum_of_squares(kQK, x) / kQK : 2 * sum_of_squares(kQK, x) / kQK;
    float max_scale = 0;
    std::uint16_t q2[32] = {};  // IQ2_XS's packed index and signs
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = x + 16 * ib;
        if (importance)
            importance_weights(16, xb, importance + 16 * ib, sigma2, weight);
        else
            for (int i = 0; i < 16; ++i)
                weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
        for (int i = 0; i < 16; ++i)
            waux[i] = std::sqrt(weight[i]);
        std::uint8_t signs[2];
        for (int k = 0; k < 2; ++k)
            signs[k] =
                xs ? fold_even(xb + 8 * k, weight + 8 * k, xval + 8 * k) : fold_all(xb + 8 * k, xval + 8 * k);
        scales[ib] = 0;
        const float max = max_of(xval, 16);
        if (max < (xs ? kEps : kEpsIq2s))
            continue;
        float scale = fit_on_grid(grid, kIq2Search, 16, xval, weight, waux, max, max / 5, L);
        if (scale < 0) {
            scale = -scale;
            for (auto& s : signs)
                s = static_cast<std::uint8_t>(xs ? ~s & 127 : ~s);
        }
        for (int k = 0; k < 2; ++k) {
            const int index = point_of(grid, L + 8 * k), i8 = 2 * ib + k;
            if constexpr (xs) {
                q2[i8] = static_cast<std::uint16_t>(index | (signs[k] << 9));
            } else {
                y.qs[i8] = static_cast<std::uint8_t>(index & 255);
                y.qh[i8 / 4] |= static_cast<std::uint8_t>((index >> 8) << (2 * (i8 % 4)));
                y.qs[32 + i8] = signs[k];
            }
        }
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    if (max_scale == 0) {
        if constexpr (xs)
            return Block{};
        return y;  // IQ2_S keeps the codes it wrote (ggml returns before the scales)
    }
    const float d = max_scale / 31;
    y.d = half(xs ? d : d * 0.9875f);
    const float id = 1 / d;
    for (int ib = 0; ib < 16; ++ib)
        y.scales[ib / 2] |= static_cast<std::uint8_t>(scale_code(id, scales[ib], 15) << (4 * (ib % 2)));
    if constexpr (xs)
        for (int i = 0; i < 32; ++i)
            store_le16(y.qs + 2 * i, q2[i]);
    return y;
}

// ---- IQ3_XXS: 8 sub-blocks of 32, 8 groups of 4 (signs per 8, even parity).
BlockIQ3XXS iq3_xxs(const float* x, const float* importance) {
    const auto& grid = GridSearch::get(GridKind::Iq3xxs);
    BlockIQ3XXS y{};
    std::uint8_t* indices = y.qs;
    std::uint32_t scales_and_signs[8] = {};
    float scales[8], weight[32], waux[32], xval[32];
    std::int8_t L[32];
    const float sigma2 = 2 * sum_of_squares(kQK, x) / kQK;
    float max_scale = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = x + 32 * ib;
        weights_or_squares(xb, importance ? importance + 32 * ib : nullptr, sigma2, 32, weight, waux);
        std::uint8_t signs[4];
        for (int k = 0; k < 4; ++k)
            signs[k] = fold_even(xb + 8 * k, weight + 8 * k, xval + 8 * k);
        scales[ib] = 0;
        const float max = max_of(xval, 32);
        if (max < kEpsIq3xxs)
            continue;
        float scale = fit_on_grid(grid, kIq3xxsSearch, 32, xval, weight, waux, max, max / 15, L);
        if (scale < 0) {
            scale = -scale;
            for (auto& s : signs)
                s = static_cast<std::uint8_t>(~s & 127);
        }
        for (int k = 0; k < 8; ++k)
            indices[8 * ib + k] = static_cast<std::uint8_t>(point_of(grid, L + 4 * k));
        scales_and_signs[ib] = signs[0] | (signs[1] << 7) | (signs[2] << 14) | (signs[3] << 21);
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    if (max_scale == 0)
        return BlockIQ3XXS{};
    const float d = max_scale / 31;
    y.d = half(d * 1.0125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib)
        store_le32(y.qs + 64 + 4 * ib,
                   scales_and_signs[ib] | static_cast<std::uint32_t>(scale_code(id, scales[ib], 15)) << 28);
    return y;
}

// ---- IQ3_S: 8 sub-blocks of 32, 8 groups of 4, full sign bytes. ggml advances its index and
// sign cursors only past sub-blocks it quantizes (an all-zero one is skipped, and the next
// one's codes land where the skipped one's would have); the cursors below do the same.
BlockIQ3S iq3_s(const float* x, const float* importance) {
    const auto& grid = GridSearch::get(GridKind::Iq3s);
    BlockIQ3S y{};
    float scales[8], weight[32], waux[32], xval[32];
    std::int8_t L[32];
    const float sigma2 = 2 * sum_of_squares(kQK, x) / kQK;
    float max_scale = 0;
    int qs_at = 0, signs_at = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = x + 32 * ib;
        weights_or_squares(xb, importance ? importance + 32 * ib : nullptr, sigma2, 32, weight, waux);
        std::uint8_t signs[4];
        for (int k = 0; k < 4; ++k)
            signs[k] = fold_all(xb + 8 * k, xval + 8 * k);
        scales[ib] = 0;
        const float max = max_of(xval, 32);
        if (!(max != 0))  // ggml: if (!max) — a NaN max goes on
            continue;
        float scale = fit_on_grid(grid, kIq3sSearch, 32, xval, weight, waux, max, max / 15, L);
        if (scale < 0) {
            scale = -scale;
            for (auto& s : signs)
                s = static_cast<std::uint8_t>(~s);
        }
        for (int k = 0; k < 8; ++k) {
            const int index = point_of(grid, L + 4 * k);
            y.qs[qs_at + k] = static_cast<std::uint8_t>(index & 255);
            y.qh[ib] |= static_cast<std::uint8_t>((index >> 8) << k);
        }
        qs_at += 8;
        std::copy(signs, signs + 4, y.signs + signs_at);
        signs_at += 4;
        scales[ib] = scale;
        max_scale = std::max(max_scale, scale);
    }
    if (max_scale == 0)
        return y;
    const float d = max_scale / 31;
    y.d = half(d * 1.033f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ib += 2)
        y.scales[ib / 2] = static_cast<std::uint8_t>(scale_code(id, scales[ib], 15) |
                                                     (scale_code(id, scales[ib + 1], 15) << 4));
    return y;
}

// ---- IQ1_S and IQ1_M: ternary groups of 8 (levels −1, 0, 1 shifted by ±δ). With three levels,
// ggml searches exhaustively: values sorted, every split into low/middle/high groups scored in
// closed form. Ties in the sort keep index order (ggml's qsort is glibc's merge sort, stable).

void sort_indices(const float* x, int n, int* order) {
    std::iota(order, order + n, 0);
    std::stable_sort(order, order + n, [x](int a, int b) { return x[a] < x[b]; });
}

// The level of each value for a split: sorted positions [0, i1) → 0, [i1, i2) → 1, the rest 2.
void split_levels(const int* order, int n, int i1, int i2, std::int8_t* L) {
    for (int j = 0; j < n; ++j)
        L[order[j]] = static_cast<std::int8_t>(j < i1 ? 0 : j < i2 ? 1 : 2);
}

constexpr float kShiftUp[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
constexpr float kShiftDown[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};

// Snaps a ternary group to the codebook, as fit_on_grid's snap for the shifted levels.
int snap_ternary(const GridSearch& grid, const float* x, const float* weight, float scale,
                 const float* shifted, std::int8_t* L, bool& all_on) {
    const unsigned u = pack_levels(L, 8, 2);
    int index = grid.on_grid(u);
    if (index < 0) {
        all_on = false;
        if ((index = best_shifted_neighbour(grid, u, x, weight, scale, shifted, L)) < 0)
            cannot_place();
    }
    return index;
}

// Adds Σ w·q·x and Σ w·q² over groups whose levels are the points `index`, each group with its
// own shifted levels; with a `multiplier` (IQ1_M's final fit, the sub-block scale code) q is
// the shifted level times it.
void shifted_sums(const GridSearch& grid, const int* index, const float* const* shifted, int groups,
                  const float* weight, const float* x, const float* multiplier, float& sumqx, float& sumq2) {
    for (int k = 0; k < groups; ++k) {
        const std::int8_t* point = grid.point(index[k]);
        for (int j = 0; j < 8; ++j) {
            const float w = weight[8 * k + j];
            const float q =
                multiplier ? shifted[k][(point[j] - 1) / 2] * *multiplier : shifted[k][(point[j] - 1) / 2];
            sumqx += w * q * x[8 * k + j];
            sumq2 += w * q * q;
        }
    }
}

BlockIQ1S iq1_s_block(const float* x, const float* importance) {
    const auto& grid = GridSearch::get(GridKind::Iq1s);
    BlockIQ1S y{};
    float scales[8], weight[32], sumx[33], sumw[33];
    int order[32], shifts[8];
    std::int8_t L[32];
    const float sigma2 = 2 * sum_of_squares(kQK, x) / kQK;
    float max_scale = 0;
    for (int ib = 0; ib < 8; ++ib) {
        const float* xb = x + 32 * ib;
        importance_weights(32, xb, importance + 32 * ib, sigma2, weight);
        float max = std::fabs(xb[0]);
        for (int i = 1; i < 32; ++i)
            max = max > std::fabs(xb[i]) ? max : std::fabs(xb[i]);
        scales[ib] = 0;
        shifts[ib] = 1;
        if (max < kEpsIq1s)
            continue;
        sort_indices(xb, 32, order);
        sumx[0] = sumw[0] = 0;
        for (int j = 0; j < 32; ++j) {
            const int i = order[j];
            sumx[j + 1] = sumx[j] + weight[i] * xb[i];
            sumw[j + 1] = sumw[j] + weight[i];
        }
        float best_score = -FLT_MAX, scale = max;
        int best1 = -1, best2 = -1, best_shift = 0;
        for (int i1 = 0; i1 <= 32; ++i1)
            for (int i2 = i1; i2 <= 32; ++i2)
                for (const int shift : {1, -1}) {
                    const float* v = shift == 1 ? kShiftUp : kShiftDown;
                    const float sumqx = (sumx[i1] - sumx[0]) * v[0] + (sumx[i2] - sumx[i1]) * v[1] +
                                        (sumx[32] - sumx[i2]) * v[2];
                    const float sumq2 = (sumw[i1] - sumw[0]) * v[0] * v[0] +
                                        (sumw[i2] - sumw[i1]) * v[1] * v[1] +
                                        (sumw[32] - sumw[i2]) * v[2] * v[2];
                    if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
                        scale = sumqx / sumq2;
                        best_score = scale * sumqx;
                        best1 = i1;
                        best2 = i2;
                        best_shift = shift;
                    }
                }
        if (best1 < 0 || best2 < 0 || best_shift == 0)
            continue;
        split_levels(order, 32, best1, best2, L);
        if (scale < 0) {
            for (auto& l : L)
                l = static_cast<std::int8_t>(2 - l);
            scale = -scale;
            best_shift = -best_shift;
        }
        const float* shifted = best_shift == 1 ? kShiftUp : kShiftDown;
        bool all_on = true;
        int index[4];
        for (int k = 0; k < 4; ++k)
            index[k] = snap_ternary(grid, xb + 8 * k, weight + 8 * k, scale, shifted, L + 8 * k, all_on);
        if (!all_on) {
            const float* per_group[4] = {shifted, shifted, shifted, shifted};
            float sumqx = 0, sumq2 = 0;
            shifted_sums(grid, index, per_group, 4, weight, xb, nullptr, sumqx, sumq2);
            if (sumqx > 0 && sumq2 > 0)
                scale = sumqx / sumq2;
        }
        unsigned h = 0;
        for (int k = 0; k < 4; ++k) {
            y.qs[4 * ib + k] = static_cast<std::uint8_t>(index[k] & 255);
            h |= static_cast<unsigned>(index[k] >> 8) << (3 * k);
        }
        store_le16(y.qh + 2 * ib, h);
        scales[ib] = scale;
        shifts[ib] = best_shift;
        max_scale = std::max(max_scale, scale);
    }
    if (max_scale == 0)
        return y;
    const float d = max_scale / 15;
    y.d = half(d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < 8; ++ib) {
        int l = scale_code(id, scales[ib], 7);
        if (shifts[ib] == -1)
            l |= 8;
        store_le16(y.qh + 2 * ib, le16(y.qh + 2 * ib) | static_cast<unsigned>(l << 12));
    }
    return y;
}

// IQ1_M's shift choice k for a sub-block of two groups: bit 1 set shifts the first group down,
// bit 0 the second (ggml's order: ++, +−, −+, −−).
const float* iq1m_shifted(int k, int group) {
    return (group == 0 ? k < 2 : k % 2 == 0) ? kShiftUp : kShiftDown;
}

BlockIQ1M iq1_m_block(const float* x, const float* importance) {
    static constexpr std::uint8_t kShiftMask[4] = {0x00, 0x80, 0x08, 0x88};
    const auto& grid = GridSearch::get(GridKind::Iq1s);
    BlockIQ1M y{};
    float scales[16], weight[16];
    int order[16], shifts[16];
    std::int8_t L[16];
    const float sigma2 = 2 * sum_of_squares(kQK, x) / kQK;
    auto weights_of = [&](const float* xb, int ib) {
        weights_or_squares(xb, importance ? importance + 16 * ib : nullptr, sigma2, 16, weight, nullptr);
    };
    float max_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const float* xb = x + 16 * ib;
        weights_of(xb, ib);
        float max = std::fabs(xb[0]);
        for (int i = 1; i < 16; ++i)
            max = max > std::fabs(xb[i]) ? max : std::fabs(xb[i]);
        scales[ib] = 0;
        shifts[ib] = 0;
        if (max < kEpsIq1m)
            continue;
        sort_indices(xb, 16, order);
        // Prefix sums of w·x and w in sorted order, kept per half (group) since each group
        // takes its own shift. The levels step by 1, so a split's Σ w·x·v is T·v₂ − S(i1) − S(i2),
        // and Σ w·v² collapses alike (llama.cpp's form, newer than ggml's direct sums).
        float px[2][17], pw[2][17];
        px[0][0] = px[1][0] = pw[0][0] = pw[1][0] = 0;
        for (int j = 0; j < 16; ++j) {
            const int i = order[j], h = i < 8 ? 0 : 1;
            px[h][j + 1] = px[h][j] + weight[i] * xb[i];
            px[1 - h][j + 1] = px[1 - h][j];
            pw[h][j + 1] = pw[h][j] + weight[i];
            pw[1 - h][j + 1] = pw[1 - h][j];
        }
        const float up2 = kShiftUp[2], down2 = kShiftDown[2];
        const float cu1 = kShiftUp[0] * kShiftUp[0] - kShiftUp[1] * kShiftUp[1];
        const float cu2 = kShiftUp[1] * kShiftUp[1] - kShiftUp[2] * kShiftUp[2];
        const float cd1 = kShiftDown[0] * kShiftDown[0] - kShiftDown[1] * kShiftDown[1];
        const float cd2 = kShiftDown[1] * kShiftDown[1] - kShiftDown[2] * kShiftDown[2];
        float best_score = -FLT_MAX, scale = max;
        int best1 = -1, best2 = -1, best_k = -1;
        for (int i1 = 0; i1 <= 16; ++i1)
            for (int i2 = i1; i2 <= 16; ++i2) {
                float qx_up[2], qx_down[2], q2_up[2], q2_down[2];
                for (int h = 0; h < 2; ++h) {
                    const float sx = px[h][i1] + px[h][i2];
                    qx_up[h] = px[h][16] * up2 - sx;
                    qx_down[h] = px[h][16] * down2 - sx;
                    q2_up[h] = pw[h][16] * up2 * up2 + pw[h][i1] * cu1 + pw[h][i2] * cu2;
                    q2_down[h] = pw[h][16] * down2 * down2 + pw[h][i1] * cd1 + pw[h][i2] * cd2;
                }
                // k: bit 1 shifts the first group down, bit 0 the second (as iq1m_shifted).
                const float sumqx[4] = {qx_up[0] + qx_up[1], qx_up[0] + qx_down[1], qx_down[0] + qx_up[1],
                                        qx_down[0] + qx_down[1]};
                const float sumq2[4] = {q2_up[0] + q2_up[1], q2_up[0] + q2_down[1], q2_down[0] + q2_up[1],
                                        q2_down[0] + q2_down[1]};
                for (int k = 0; k < 4; ++k)
                    if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
                        scale = sumqx[k] / sumq2[k];
                        best_score = scale * sumqx[k];
                        best1 = i1;
                        best2 = i2;
                        best_k = k;
                    }
            }
        if (best1 < 0 || best2 < 0 || best_k < 0)
            continue;
        split_levels(order, 16, best1, best2, L);
        if (scale < 0) {
            for (auto& l : L)
                l = static_cast<std::int8_t>(2 - l);
            scale = -scale;
            best_k = 3 - best_k;
        }
        bool all_on = true;
        int index[2];
        for (int k = 0; k < 2; ++k)
            index[k] = snap_ternary(grid, xb + 8 * k, weight + 8 * k, scale, iq1m_shifted(best_k, k),
                                    L + 8 * k, all_on);
        if (!all_on) {
            const float* per_group[2] = {iq1m_shifted(best_k, 0), iq1m_shifted(best_k, 1)};
            float sumqx = 0, sumq2 = 0;
            shifted_sums(grid, index, per_group, 2, weight, xb, nullptr, sumqx, sumq2);
            if (sumqx > 0 && sumq2 > 0)
                scale = sumqx / sumq2;
        }
        y.qs[2 * ib] = static_cast<std::uint8_t>(index[0] & 255);
        y.qs[2 * ib + 1] = static_cast<std::uint8_t>(index[1] & 255);
        y.qh[ib] = static_cast<std::uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
        scales[ib] = scale;
        shifts[ib] = best_k;
        max_scale = std::max(max_scale, scale);
    }
    if (max_scale == 0)
        return y;
    // Sub-block scale codes, then the super-block scale refitted over all values with them.
    unsigned sc[4] = {};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int ib = 0; ib < 16; ++ib) {
        const int l = scale_code(id, scales[ib], 7);
        sc[ib / 4] |= static_cast<unsigned>(l << (3 * (ib % 4)));
        y.qh[ib] |= kShiftMask[shifts[ib]];
        const float* xb = x + 16 * ib;
        weights_of(xb, ib);
        const int index[2] = {y.qs[2 * ib] | ((y.qh[ib] << 8) & 0x700),
                              y.qs[2 * ib + 1] | ((y.qh[ib] << 4) & 0x700)};
        const float* per_group[2] = {iq1m_shifted(shifts[ib], 0), iq1m_shifted(shifts[ib], 1)};
        const float code_scale = static_cast<float>(2 * l + 1);
        shifted_sums(grid, index, per_group, 2, weight, xb, &code_scale, sumqx, sumq2);
    }
    if (sumq2 > 0)
        d = sumqx / sumq2;
    const unsigned s = half(d * 1.1125f);
    sc[0] |= (s & 0x000F) << 12;
    sc[1] |= (s & 0x00F0) << 8;
    sc[2] |= (s & 0x0F00) << 4;
    sc[3] |= s & 0xF000;
    for (int w = 0; w < 4; ++w)
        store_le16(y.scales + 2 * w, sc[w]);
    return y;
}

}  // namespace

bool is_grid_iquant(DType type) {
    switch (type) {
        case DType::IQ2_XXS:
        case DType::IQ2_XS:
        case DType::IQ2_S:
        case DType::IQ3_XXS:
        case DType::IQ3_S:
        case DType::IQ1_S:
        case DType::IQ1_M: return true;
        default: return false;
    }
}

bool requires_importance(DType type) {
    return type == DType::IQ2_XXS || type == DType::IQ2_XS || type == DType::IQ1_S;
}

std::vector<float> grid_first_levels(DType type, const std::uint8_t* block) {
    std::vector<float> levels;
    auto signed_bytes = [&](float db, const auto& bytes) {
        for (const auto byte : bytes)
            if (byte != 0) {  // IQ2's unused fourth level
                levels.push_back(db * static_cast<float>(byte));
                levels.push_back(-(db * static_cast<float>(byte)));
            }
    };
    auto shifted = [&](float dl, bool down) {
        for (const int level : {-1, 0, 1})
            levels.push_back(dl * (static_cast<float>(level) + (down ? -kIq1Delta : kIq1Delta)));
    };
    const float d = from_half_bits(block);
    switch (type) {
        case DType::IQ2_XXS:
            signed_bytes(d * (0.5f + static_cast<float>(le32(block + 2 + 4) >> 28)) * 0.25f, kIq2xxsLevels);
            break;
        case DType::IQ2_XS:
            signed_bytes(d * (0.5f + static_cast<float>(block[2 + 64] & 0xF)) * 0.25f, kIq2xsLevels);
            break;
        case DType::IQ2_S:
            signed_bytes(d * (0.5f + static_cast<float>(block[2 + 64 + 8] & 0xF)) * 0.25f, kIq2sLevels);
            break;
        case DType::IQ3_XXS:
            signed_bytes(d * (0.5f + static_cast<float>(le32(block + 2 + 64) >> 28)) * 0.5f, kIq3xxsLevels);
            break;
        case DType::IQ3_S:
            signed_bytes(d * static_cast<float>(1 + 2 * (block[2 + 64 + 8 + 32] & 0xF)), kIq3sLevels);
            break;
        case DType::IQ1_S: {
            const unsigned qh = le16(block + 2 + 32);
            shifted(d * static_cast<float>(2 * ((qh >> 12) & 7) + 1), qh & 0x8000);
            break;
        }
        case DType::IQ1_M: {
            const auto y = load_block<BlockIQ1M>(block, 0);
            shifted(from_half(iq1m_scale_bits(y.scales)) * static_cast<float>(2 * (y.scales[0] & 7) + 1),
                    y.qh[0] & 0x08);
            break;
        }
        default: break;
    }
    return levels;
}

void quantize_grid_superblock(DType type, const float* x, const float* importance, std::uint8_t* out) {
    if (requires_importance(type) && !importance)
        throw std::invalid_argument(std::string(dtype_name(type)) + " needs an importance matrix");
    for (int i = 0; i < kQK; ++i)
        if (!std::isfinite(x[i]))
            throw std::domain_error("value " + std::to_string(i) + " of the super-block is not finite");
    switch (type) {
        case DType::IQ2_XXS: return store_block(iq2_xxs(x, importance), out, 0);
        case DType::IQ2_XS: return store_block(iq2_xs_or_s<BlockIQ2XS>(x, importance), out, 0);
        case DType::IQ2_S: return store_block(iq2_xs_or_s<BlockIQ2S>(x, importance), out, 0);
        case DType::IQ3_XXS: return store_block(iq3_xxs(x, importance), out, 0);
        case DType::IQ3_S: return store_block(iq3_s(x, importance), out, 0);
        case DType::IQ1_S: return store_block(iq1_s_block(x, importance), out, 0);
        case DType::IQ1_M: return store_block(iq1_m_block(x, importance), out, 0);
        default: throw std::invalid_argument("quantize_grid_superblock: not a grid i-quant");
    }
}

}  // namespace quantlens::ggml

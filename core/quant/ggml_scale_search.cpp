#include "quant/ggml_scale_search.hpp"

#include <algorithm>
#include <cmath>

namespace quantlens::ggml {

namespace {

constexpr float kAllZero = 1e-15f;  // ggml's GROUP_MAX_EPS: a group this small is all zeros

// The element of largest magnitude, sign kept (the first on ties).
float signed_absmax(int n, const float* x, float& amax) {
    float max = 0;
    amax = 0;
    for (int i = 0; i < n; ++i)
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    return max;
}

int clamp_code(int l, int lo, int hi) {
    return std::max(lo, std::min(hi, l));
}

}  // namespace

int nearest_level(int n, const std::int8_t* levels, float x) {
    if (x <= levels[0])
        return 0;
    if (x >= levels[n - 1])
        return n - 1;
    int low = 0, high = n - 1;
    while (high - low > 1) {
        const int mid = (low + high) / 2;
        (x < levels[mid] ? high : low) = mid;
    }
    return x - levels[high - 1] < levels[high] - x ? high - 1 : high;
}

float symmetric_search(int n, int nmax, const float* x, std::int8_t* L, const float* weights) {
    float amax;
    const float max = signed_absmax(n, x, amax);
    if (amax < kAllZero) {
        std::fill(L, L + n, std::int8_t{0});
        return 0.0f;
    }
    auto weight = [&](int i) {
        return weights ? weights[i] : x[i] * x[i];
    };
    // Codes for one inverse scale, with the weighted sums Σw·x·l and Σw·l² of the fit.
    auto fit = [&](float iscale, float& sumlx, float& suml2, std::int8_t* codes) {
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_code(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            if (codes)
                codes[i] = static_cast<std::int8_t>(l + nmax);
            const float w = weight(i);
            sumlx += w * x[i] * static_cast<float>(l);
            suml2 += w * static_cast<float>(l) * static_cast<float>(l);
        }
    };
    float sumlx, suml2;
    fit(static_cast<float>(-nmax) / max, sumlx, suml2, L);
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; ++step) {
        if (step == 0)
            continue;
        const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(step)) / max;
        fit(iscale, sumlx, suml2, nullptr);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            fit(iscale, sumlx, suml2, L);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

float symmetric_refine_x2(int n, int nmax, const float* x, std::int8_t* L) {
    float amax;
    const float max = signed_absmax(n, x, amax);
    if (amax < kAllZero) {
        std::fill(L, L + n, std::int8_t{0});
        return 0.0f;
    }
    const float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = clamp_code(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<std::int8_t>(l);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * static_cast<float>(l);
        suml2 += w * static_cast<float>(l) * static_cast<float>(l);
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = x[i] * x[i];
            const float l_old = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * l_old;
            if (!(slx > 0))
                continue;
            float sl2 = suml2 - w * l_old * l_old;
            const int l = clamp_code(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i])
                continue;
            slx += w * x[i] * static_cast<float>(l);
            sl2 += w * static_cast<float>(l) * static_cast<float>(l);
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<std::int8_t>(l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0)
            break;
    }
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<std::int8_t>(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

float asymmetric_search(int n, int nmax, const float* x, const float* weights, std::uint8_t* L,
                        float* neg_min, std::uint8_t* scratch, float rmin, float rdelta, int nstep,
                        bool absolute, bool strict_range) {
    auto weight = [&](int i) {
        return weights ? weights[i] : x[i] * x[i];
    };
    float min = x[0], max = x[0];
    float sum_w = weight(0);
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        const float w = weight(i);
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (strict_range ? max == min : max <= min) {
        std::fill(L, L + n, std::uint8_t{0});
        *neg_min = -min;
        return 0.0f;
    }
    const float top = static_cast<float>(nmax);
    auto error_of = [&](float scale, float offset, const std::uint8_t* codes) {
        float error = 0;
        for (int i = 0; i < n; ++i) {
            float diff = scale * static_cast<float>(codes[i]) + offset - x[i];
            diff = absolute ? std::fabs(diff) : diff * diff;
            error += weight(i) * diff;
        }
        return error;
    };
    float iscale = top / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i)
        L[i] = static_cast<std::uint8_t>(clamp_code(nearest_int(iscale * (x[i] - min)), 0, nmax));
    float best_error = error_of(scale, min, L);
    if (nstep < 1) {
        *neg_min = -min;
        return scale;
    }
    for (int step = 0; step <= nstep; ++step) {
        iscale = (rmin + rdelta * static_cast<float>(step) + top) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_code(nearest_int(iscale * (x[i] - min)), 0, nmax);
            scratch[i] = static_cast<std::uint8_t>(l);
            const float w = weight(i), fl = static_cast<float>(l);
            sum_l += w * fl;
            sum_l2 += w * fl * fl;
            sum_xl += w * fl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0))
            continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float error = error_of(this_scale, this_min, scratch);
        if (error < best_error) {
            std::copy(scratch, scratch + n, L);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

float positive_search(int n, int nmax, const float* x, std::uint8_t* L, const float* weights) {
    float max = 0;
    for (int i = 0; i < n; ++i)
        max = max > x[i] ? max : x[i];  // as ggml's MAX(max, x): a NaN x is taken
    if (max < kAllZero) {
        std::fill(L, L + n, std::uint8_t{0});
        return 0.0f;
    }
    auto weighted_error = [&](float iscale, bool cap) {
        const float scale = 1 / iscale;
        float error = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            // ggml keeps the first try's codes in its uint8 code array unclamped, so a
            // negative one wraps there; the later tries use the clamped int.
            l = cap ? std::min(nmax, l) : static_cast<std::uint8_t>(l);
            const float diff = x[i] - scale * static_cast<float>(l);
            error += weights[i] * diff * diff;
        }
        return error;
    };
    float iscale = static_cast<float>(nmax) / max;
    float best = weighted_error(iscale, false);
    for (int step = -4; step <= 4; ++step) {
        if (step == 0)
            continue;
        const float candidate = (0.1f * static_cast<float>(step) + static_cast<float>(nmax)) / max;
        const float error = weighted_error(candidate, true);
        if (error < best) {
            best = error;
            iscale = candidate;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        const int l = std::min(nmax, nearest_int(iscale * x[i]));
        L[i] = static_cast<std::uint8_t>(l);
        const float w = weights[i], fl = static_cast<float>(l);
        sumlx += w * x[i] * fl;
        suml2 += w * fl * fl;
    }
    for (int pass = 0; pass < 5; ++pass) {
        int changed = 0;
        for (int i = 0; i < n; ++i) {
            const float w = weights[i], l_old = static_cast<float>(L[i]);
            float slx = sumlx - w * x[i] * l_old;
            float sl2 = suml2 - w * l_old * l_old;
            if (!(slx > 0 && sl2 > 0))
                continue;
            const int l = std::min(nmax, nearest_int(x[i] * sl2 / slx));
            if (l == L[i])
                continue;
            slx += w * x[i] * static_cast<float>(l);
            sl2 += w * static_cast<float>(l) * static_cast<float>(l);
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = static_cast<std::uint8_t>(l);
                sumlx = slx;
                suml2 = sl2;
                ++changed;
            }
        }
        if (changed == 0)
            break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

}  // namespace quantlens::ggml

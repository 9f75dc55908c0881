#include "quant/ggml_grid_search.hpp"

#include <algorithm>
#include <cfloat>
#include <memory>

#include "tensor/ggml_iq_grids.hpp"
#include "util/parallel.hpp"

namespace quantlens::ggml {

GridSearch::GridSearch(const std::uint16_t* codes, int size, int values, int bits, int map_size,
                       int wanted_distances)
    : values_(values), bits_(bits), points_(static_cast<std::size_t>(size) * values), map_(map_size, -1) {
    const unsigned mask = (1u << bits) - 1;
    for (int k = 0; k < size; ++k) {
        for (int i = 0; i < values; ++i)
            points_[static_cast<std::size_t>(k) * values + i] =
                static_cast<std::int8_t>(2 * ((codes[k] >> (bits * i)) & mask) + 1);
        map_[codes[k]] = k;
    }
    // Neighbours of every u off the grid: the points at the `wanted_distances` smallest distinct
    // squared distances from u's levels, by distance, then index (ggml sorts (d², index) pairs).
    std::vector<std::vector<std::uint16_t>> lists(static_cast<std::size_t>(map_size));
    parallel_for(lists.size(), 256, [&](std::size_t begin, std::size_t end) {
        std::vector<int> d2(static_cast<std::size_t>(size));
        for (std::size_t u = begin; u < end; ++u) {
            if (map_[u] >= 0)
                continue;
            int position[8];
            for (int i = 0; i < values; ++i)
                position[i] = static_cast<int>(2 * ((u >> (bits * i)) & mask) + 1);
            std::vector<int> nearest;  // the smallest distinct distances, ascending
            for (int k = 0; k < size; ++k) {
                int sum = 0;
                for (int i = 0; i < values; ++i) {
                    const int diff = points_[static_cast<std::size_t>(k) * values + i] - position[i];
                    sum += diff * diff;
                }
                d2[static_cast<std::size_t>(k)] = sum;
                const auto at = std::lower_bound(nearest.begin(), nearest.end(), sum);
                if ((at == nearest.end() || *at != sum) && at - nearest.begin() < wanted_distances) {
                    nearest.insert(at, sum);
                    if (static_cast<int>(nearest.size()) > wanted_distances)
                        nearest.pop_back();
                }
            }
            auto& list = lists[u];
            for (const int distance : nearest)
                for (int k = 0; k < size; ++k)
                    if (d2[static_cast<std::size_t>(k)] == distance)
                        list.push_back(static_cast<std::uint16_t>(k));
        }
    });
    for (std::size_t u = 0; u < lists.size(); ++u) {
        if (map_[u] >= 0)
            continue;
        map_[u] = -static_cast<int>(neighbours_.size()) - 1;
        neighbours_.push_back(static_cast<std::uint16_t>(lists[u].size()));
        neighbours_.insert(neighbours_.end(), lists[u].begin(), lists[u].end());
    }
}

const GridSearch& GridSearch::get(GridKind kind) {
    // ggml's parameters: the 8-value grids pack 2-bit levels, which the quantizers clamp to 0..2
    // (u ≤ 0xAAAA; ggml's map has 43692 entries), the 4-value ones 3-bit levels (0..7).
    // Neighbours at the 2 nearest distances, 1 for IQ2_S's larger grid, 3 for IQ1's and IQ3_S's.
    constexpr int kMap8 = 43692, kMap4 = 4096;
    switch (kind) {
        case GridKind::Iq2xxs: {
            static const GridSearch grid(kIq2xxsCodes, 256, 8, 2, kMap8, 2);
            return grid;
        }
        case GridKind::Iq2xs: {
            static const GridSearch grid(kIq2xsCodes, 512, 8, 2, kMap8, 2);
            return grid;
        }
        case GridKind::Iq2s: {
            static const GridSearch grid(kIq2sCodes, 1024, 8, 2, kMap8, 1);
            return grid;
        }
        case GridKind::Iq1s: {
            static const GridSearch grid(kIq1sCodes, 2048, 8, 2, kMap8, 3);
            return grid;
        }
        case GridKind::Iq3xxs: {
            static const GridSearch grid(kIq3xxsCodes, 256, 4, 3, kMap4, 2);
            return grid;
        }
        case GridKind::Iq3s: {
            static const GridSearch grid(kIq3sCodes, 512, 4, 3, kMap4, 3);
            return grid;
        }
    }
    __builtin_unreachable();
}

namespace {

// The neighbour of u of least Σ w·(scale·value(q) − x)², q a point's stored 2·level + 1.
template <class Value>
int least_error_neighbour(const GridSearch& grid, unsigned u, const float* x, const float* w, float scale,
                          Value value, std::int8_t* L) {
    const std::uint16_t* list = grid.neighbours(u);
    float best = FLT_MAX;
    int index = -1;
    for (int j = 1; j <= list[0]; ++j) {
        const std::int8_t* point = grid.point(list[j]);
        float d2 = 0;
        for (int i = 0; i < grid.values(); ++i) {
            const float diff = scale * value(point[i]) - x[i];
            d2 += w[i] * diff * diff;
        }
        if (d2 < best) {
            best = d2;
            index = list[j];
        }
    }
    if (index >= 0)
        for (int i = 0; i < grid.values(); ++i)
            L[i] = static_cast<std::int8_t>((grid.point(index)[i] - 1) / 2);
    return index;
}

}  // namespace

int best_neighbour(const GridSearch& grid, unsigned u, const float* x, const float* w, float scale,
                   std::int8_t* L) {
    return least_error_neighbour(
        grid, u, x, w, scale, [](std::int8_t q) { return static_cast<float>(q); }, L);
}

int best_shifted_neighbour(const GridSearch& grid, unsigned u, const float* x, const float* w, float scale,
                           const float* shifted, std::int8_t* L) {
    return least_error_neighbour(
        grid, u, x, w, scale, [shifted](std::int8_t q) { return shifted[(q - 1) / 2]; }, L);
}

}  // namespace quantlens::ggml

#pragma once
// The search structures behind ggml's grid i-quant quantizers (ggml-quants.c iq2xs_init_impl,
// iq3xs_init_impl; docs/quant-spec.md "grid i-quants"). A group's values, divided by a trial
// scale, round to level indices; their packed indices `u` either name a codebook point or not.
// For the ones that do not, ggml precomputes the nearest points (all points at the smallest
// few squared distances, in order of distance, then of point index), and the quantizer picks
// among those by weighted error. QuantLens builds the same lists, from the same codebooks
// (tensor/ggml_iq_grids), once per process.
#include <cstdint>
#include <vector>

namespace quantlens::ggml {

enum class GridKind { Iq2xxs, Iq2xs, Iq2s, Iq1s, Iq3xxs, Iq3s };

class GridSearch {
public:
    static const GridSearch& get(GridKind kind);  // built on first use, thread-safe

    int values() const { return values_; }  // 8 or 4 values a point
    int bits() const { return bits_; }      // bits a level index takes in u
    // Point k as ggml's quantizers hold it: 2·level + 1 per value.
    const std::int8_t* point(int k) const { return points_.data() + static_cast<std::size_t>(k) * values_; }
    // The point whose packed level indices are u, or −1.
    int on_grid(unsigned u) const { return map_[u] >= 0 ? map_[u] : -1; }
    // For u off the grid: the number of neighbours, followed by their point indices.
    const std::uint16_t* neighbours(unsigned u) const { return neighbours_.data() + (-map_[u] - 1); }

private:
    GridSearch(const std::uint16_t* codes, int size, int values, int bits, int map_size,
               int wanted_distances);

    int values_, bits_;
    std::vector<std::int8_t> points_;
    std::vector<int> map_;  // ≥ 0: a point; < 0: −(offset + 1) into neighbours_
    std::vector<std::uint16_t> neighbours_;
};

// Packs levels L[0..values) (each below 2^bits) as ggml's u.
inline unsigned pack_levels(const std::int8_t* L, int values, int bits) {
    unsigned u = 0;
    for (int i = 0; i < values; ++i)
        u |= static_cast<unsigned>(L[i]) << (bits * i);
    return u;
}

// Among the neighbours of u, the point of least Σ w·(scale·q − x)² (q = 2·level + 1; the first
// on ties); writes its levels to L. −1 when no error compares below FLT_MAX (NaN weights or
// overflow), where ggml aborts.
int best_neighbour(const GridSearch& grid, unsigned u, const float* x, const float* w, float scale,
                   std::int8_t* L);

// IQ1_S's and IQ1_M's variant: a point's level l stands for shifted[l] (−1, 0, 1 plus or minus
// δ), and x is the signed group.
int best_shifted_neighbour(const GridSearch& grid, unsigned u, const float* x, const float* w, float scale,
                           const float* shifted, std::int8_t* L);

}  // namespace quantlens::ggml

#pragma once
// The codebooks of ggml's grid i-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S;
// docs/formats.md §5). A group of 8 (or 4) values is stored as the index of a codebook point,
// a sign pattern and the group's scale. The numbers are ggml's, extracted by
// samples/ggml/make_iq_grids.py into ggml_iq_grid_codes.inc as level indices; the decoder's
// byte tables are built from them here at compile time, and the quantizers (quant/ggml_iquants)
// build their search structures from the same indices.
#include <array>
#include <cstddef>
#include <cstdint>

namespace quantlens::ggml {

#include "tensor/ggml_iq_grid_codes.inc"

// A codebook as decoders read it: point k, value i is the byte levels[index i of code k].
template <class Byte, std::size_t Values, std::size_t Points, std::size_t Levels>
constexpr auto decoded_grid(const std::uint16_t (&codes)[Points], const std::uint8_t (&levels)[Levels]) {
    constexpr int bits = Levels == 8 ? 3 : 2;
    std::array<std::array<Byte, Values>, Points> grid{};
    for (std::size_t k = 0; k < Points; ++k)
        for (std::size_t i = 0; i < Values; ++i)
            grid[k][i] = static_cast<Byte>(levels[(codes[k] >> (bits * i)) & (Levels - 1)]);
    return grid;
}

inline constexpr auto kIq2xxsGrid = decoded_grid<std::uint8_t, 8>(kIq2xxsCodes, kIq2xxsLevels);
inline constexpr auto kIq2xsGrid = decoded_grid<std::uint8_t, 8>(kIq2xsCodes, kIq2xsLevels);
inline constexpr auto kIq2sGrid = decoded_grid<std::uint8_t, 8>(kIq2sCodes, kIq2sLevels);
inline constexpr auto kIq3xxsGrid = decoded_grid<std::uint8_t, 4>(kIq3xxsCodes, kIq3xxsLevels);
inline constexpr auto kIq3sGrid = decoded_grid<std::uint8_t, 4>(kIq3sCodes, kIq3sLevels);
inline constexpr auto kIq1sGrid = decoded_grid<std::int8_t, 8>(kIq1sCodes, kIq1sLevels);  // −1, 0, 1

// The 8-bit sign pattern of a 7-bit stored one: bit 7 is the parity of the other seven, so a
// group always flips an even number of values (ggml's ksigns_iq2xs). Bit j set: value j < 0.
constexpr std::uint8_t even_signs(unsigned pattern7) {
    unsigned parity = 0;
    for (unsigned v = pattern7 & 127; v; v >>= 1)
        parity ^= v & 1;
    return static_cast<std::uint8_t>((pattern7 & 127) | (parity << 7));
}

// IQ1_S's and IQ1_M's shift: each value is grid ± δ (IQ1S_DELTA = IQ1M_DELTA in ggml).
inline constexpr float kIq1Delta = 0.125f;

}  // namespace quantlens::ggml

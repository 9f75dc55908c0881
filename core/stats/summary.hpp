#pragma once
// Count, min, max, mean and standard deviation of a tensor (inspect's columns), from the
// robust float64 moments in stats/moments.hpp. layer_statistics.hpp has the full set.
#include <cstdint>
#include <span>

namespace quantlens {

struct Summary {
    std::uint64_t count = 0;  // finite values
    std::uint64_t non_finite = 0;
    double min = 0, max = 0, mean = 0, std = 0;  // population std (divides by n)
};

Summary summarize(std::span<const float> values);

}  // namespace quantlens

#pragma once
// Count, min, max, mean and standard deviation of a tensor, in one parallel pass with
// float64 accumulation (per-chunk mean/M2 merged with Chan et al.'s formula, so a
// large mean does not cancel the variance). Full statistics live in core/stats later.
#include <cstdint>
#include <span>

namespace quantlens {

struct Summary {
    std::uint64_t count = 0;     // finite values
    std::uint64_t non_finite = 0;
    double min = 0, max = 0, mean = 0, std = 0;  // population std (divides by n)
};

Summary summarize(std::span<const float> values);

}  // namespace quantlens

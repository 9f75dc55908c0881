// F16 and BF16 -> float32 conversion of a 1 GiB tensor, against the memory bandwidth
// measured in the same run by a parallel memcpy (same thread count). Traffic counts
// bytes read plus bytes written: conversion moves 1 GiB in + 2 GiB out.
// Target: conversion bandwidth >= 50% of memcpy bandwidth.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "bench_support.hpp"
#include "tensor/convert.hpp"
#include "util/parallel.hpp"

using namespace quantlens;

int main() {
    constexpr std::size_t kElements = std::size_t{1} << 29;  // 512 Mi halves = 1 GiB
    std::vector<std::uint16_t> halves(kElements);
    std::mt19937 rng(1);
    for (std::size_t i = 0; i < kElements; ++i)
        halves[i] = static_cast<std::uint16_t>(rng() & 0x7BFF);  // finite values
    std::vector<float> out(kElements);  // 2 GiB, touched below so page faults are not timed
    std::vector<float> copy_source(kElements);
    std::memset(out.data(), 1, kElements * 4);
    std::memset(copy_source.data(), 2, kElements * 4);

    const double copy_bytes = 2.0 * kElements * 4;  // read 2 GiB + write 2 GiB
    double copy_s = bench::best_seconds(3, [&] {
        parallel_for(kElements, 1 << 20, [&](std::size_t begin, std::size_t end) {
            std::memcpy(out.data() + begin, copy_source.data() + begin, (end - begin) * 4);
        });
    });
    const double bandwidth = copy_bytes / copy_s;
    std::printf("threads %u\nbaseline memcpy       %7.2f GB/s (read+write)\n", max_threads(),
                bandwidth / 1e9);

    std::span<const std::byte> input(reinterpret_cast<const std::byte*>(halves.data()), kElements * 2);
    const double convert_bytes = kElements * (2.0 + 4.0);
    for (DType type : {DType::F16, DType::BF16}) {
        double s = bench::best_seconds(3, [&] { decode_to_f32(type, input, out); });
        double moved = convert_bytes / s;
        std::printf(
            "%-5s -> F32           %7.2f GB/s (read+write), input %6.2f GB/s, ratio to memcpy %.2f (target "
            ">= 0.50) %s\n",
            std::string(dtype_name(type)).c_str(), moved / 1e9, kElements * 2.0 / s / 1e9, moved / bandwidth,
            moved / bandwidth >= 0.5 ? "PASS" : "MISS");
    }
    // ggml block types: blocks of random bytes whose half-precision scales are made finite
    // (bytes 0-1 of every block but Q2_K/Q3_K/Q6_K/TQ's, whose d sits at the end), decoded into
    // the same 2 GiB output; traffic = block bytes read + floats written.
    for (DType type : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS,
                       DType::TQ2_0, DType::Q4_0, DType::Q8_0}) {
        const auto& info = dtype_info(type);
        const std::size_t blocks = kElements / info.block_elements;
        std::vector<std::uint8_t> raw(blocks * info.block_bytes);
        for (auto& byte : raw)
            byte = static_cast<std::uint8_t>(rng());
        const bool scale_last =
            type == DType::Q2_K || type == DType::Q3_K || type == DType::Q6_K || type == DType::TQ2_0;
        for (std::size_t b = 0; b < blocks; ++b) {
            auto* block = raw.data() + b * info.block_bytes;
            const std::size_t at = scale_last ? info.block_bytes - (type == DType::Q2_K ? 4 : 2) : 0;
            block[at + 1] &= 0x3B;  // a finite half: exponent below 31
            if (type == DType::Q2_K || type == DType::Q4_K || type == DType::Q5_K)
                block[at + 3] &= 0x3B;  // dmin
        }
        const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(raw.data()), raw.size());
        const double s = bench::best_seconds(3, [&] { decode_to_f32(type, bytes, out); });
        const double moved = (static_cast<double>(raw.size()) + kElements * 4.0) / s;
        std::printf(
            "%-6s -> F32          %7.2f GB/s (read+write), %6.2f Gvalues/s, ratio to memcpy %.2f (target "
            ">= 0.50) %s\n",
            std::string(info.name).c_str(), moved / 1e9, kElements / s / 1e9, moved / bandwidth,
            moved / bandwidth >= 0.5 ? "PASS" : "MISS");
    }
    volatile float sink = out[12345];
    (void)sink;
}

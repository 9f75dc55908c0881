#pragma once
// QuantSpec: one value describing a quantizer, and its text form — the single vocabulary
// of the CLI, the GUI's spec editor, configuration files and reports.
//
//   spec    := format (":" option)*
//   format  := int2..int8 | fp8_e4m3 | fp8_e5m2 | fp6_e3m2 | fp6_e2m3 | fp4_e2m1 | nf4
//            | mxfp8_e4m3 | mxfp8_e5m2 | mxfp6_e3m2 | mxfp6_e2m3 | mxfp4 | mxint8 | nvfp4
//            | q8_0 | q4_0 | q4_1 | q5_0 | q5_1 | q2_k | q3_k | q4_k | q5_k | q6_k
//            | iq4_nl | iq4_xs | tq1_0 | tq2_0 | iq2_xxs | iq2_xs | iq2_s | iq3_xxs | iq3_s
//            | iq1_s | iq1_m                      (llama.cpp's ggml types, byte-identical)
//            | log2 | ternary | binary | f16 | bf16 | f32
//   option  := tensor | channel | g<N>            granularity (scaled formats)
//            | sym | asym | full                  integer range: symmetric restricted (default),
//                                                 asymmetric with zero point, symmetric full range
//            | <bits>                             log2 bits (2..8), e.g. log2:4
//            | clip=minmax | clip=mse | clip=p<percentile>
//            | scale=f32 | scale=f16 | scale=bf16 | scale=e8m0   how scales are stored
//            | round=rtn | round=stochastic | round=gptq
//            | seed=<n> | actorder | damp=<x>      stochastic / GPTQ settings
//            | rot=hadamard | rotseed=<n> | smooth=<alpha>     transforms (preview)
// The canonical text (to_string) always names the format's granularity and, for integers,
// sym/asym; other options appear only when they differ from the default. Parsing accepts
// options in any order; to_string(parse(text)) is canonical and parses back to an equal spec.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quantlens {

enum class QuantFormat {
    Int,
    Fp8E4M3,
    Fp8E5M2,
    Fp6E3M2,
    Fp6E2M3,
    Fp4E2M1,
    NF4,
    MxFp8E4M3,
    MxFp8E5M2,
    MxFp6E3M2,
    MxFp6E2M3,
    MxFp4,
    MxInt8,
    NvFp4,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    IQ4_NL,
    IQ4_XS,
    TQ1_0,
    TQ2_0,
    IQ2_XXS,
    IQ2_XS,
    IQ2_S,
    IQ3_XXS,
    IQ3_S,
    IQ1_S,
    IQ1_M,
    Log2,
    Ternary,
    Binary,
    F16,
    BF16,
    F32,
};
enum class Granularity { Tensor, Channel, Group, Block };  // Block: fixed by the format's spec
enum class ClipMethod { MinMax, Percentile, Mse };
enum class Rounding { Nearest, Stochastic, Gptq };
enum class ScaleStorage { F32, F16, BF16, E8M0 };
enum class Rotation { None, Hadamard };

struct QuantSpec {
    QuantFormat format = QuantFormat::Int;
    int bits = 8;  // int and log2; implied by the format otherwise
    Granularity granularity = Granularity::Channel;
    std::int64_t group_size = 0;  // Group: G; Block: the format's block size
    bool symmetric = true;
    bool full_range = false;  // symmetric: codes -2^(b-1)..2^(b-1)-1 (PyTorch's scale)
    ClipMethod clip = ClipMethod::MinMax;
    double percentile = 100.0;  // clip=p<percentile>
    ScaleStorage scale_storage = ScaleStorage::F32;
    Rounding rounding = Rounding::Nearest;
    std::uint64_t seed = 0;
    bool act_order = false;
    double damp = 0.01;
    Rotation rotation = Rotation::None;
    std::uint64_t rotation_seed = 0;
    double smooth_alpha = -1;  // < 0: no smoothing

    static QuantSpec parse(std::string_view text);  // throws quantlens::Error naming the bad part
    std::string to_string() const;
    bool operator==(const QuantSpec&) const = default;

    bool is_block_format() const;  // mx*, nvfp4, ggml q*
    bool is_cast() const;          // f16, bf16, f32
    int element_bits() const;      // bits of one stored element
    double scale_bits() const;     // bits of one stored scale (block formats: their spec)
};

// Every format name, for help texts and the GUI's format list.
const std::vector<std::string>& quant_format_names();

}  // namespace quantlens

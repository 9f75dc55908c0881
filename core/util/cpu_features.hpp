#pragma once
// Run-time CPU feature checks for the SIMD paths (each has a scalar twin it is tested against).
namespace quantlens {
bool cpu_has_avx2();  // AVX2 + FMA + F16C, with the OS saving YMM state
bool cpu_has_f16c();  // F16C + AVX, with the OS saving YMM state
}  // namespace quantlens

#include "util/cpu_features.hpp"

#include <cpuid.h>

#include <cstdlib>

namespace quantlens {

namespace {
// CPUID leaf 1 ECX: bit 12 FMA, 27 OSXSAVE, 28 AVX, 29 F16C; leaf 7 EBX bit 5: AVX2.
// XGETBV(0) bits 1-2: the OS saves XMM and YMM state. QUANTLENS_NO_SIMD=1 forces scalar paths.
struct Features {
    bool avx = false, f16c = false, fma = false, avx2 = false;
    Features() {
        if (const char* off = std::getenv("QUANTLENS_NO_SIMD"); off && off[0] == '1')
            return;
        unsigned eax, ebx, ecx, edx;
        if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
            return;
        if (!(ecx & (1u << 27)) || !(ecx & (1u << 28)))
            return;
        unsigned xcr0_low, xcr0_high;
        __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
        if ((xcr0_low & 0x6) != 0x6)
            return;
        avx = true;
        f16c = ecx & (1u << 29);
        fma = ecx & (1u << 12);
        if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
            avx2 = ebx & (1u << 5);
    }
};
const Features& features() {
    static const Features detected;
    return detected;
}
}  // namespace

bool cpu_has_avx2() {
    return features().avx2 && features().fma && features().f16c;
}
bool cpu_has_f16c() {
    return features().avx && features().f16c;
}

}  // namespace quantlens

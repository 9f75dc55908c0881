#include <cstddef>
#include <cstdint>

#include "io/gguf.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        quantlens::parse_gguf({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
    } catch (const quantlens::Error&) {
    }
    return 0;
}

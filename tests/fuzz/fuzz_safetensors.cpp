// Any bytes: parse_safetensors_header returns or throws quantlens::Error, nothing else.
#include <cstddef>
#include <cstdint>

#include "io/safetensors.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        quantlens::parse_safetensors_header({reinterpret_cast<const std::byte*>(data), size},
                                            "fuzz.safetensors");
    } catch (const quantlens::Error&) {
    }
    return 0;
}

// .npy headers, zip directories and member inflation (npz).
#include <cstddef>
#include <cstdint>

#include "io/numpy.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    try {
        quantlens::parse_npy_header(bytes, "fuzz.npy", "array");
    } catch (const quantlens::Error&) {
    }
    try {
        for (const auto& member : quantlens::parse_zip_directory(bytes, "fuzz.npz")) {
            auto head = quantlens::inflate_member(bytes, member, 65536, "fuzz.npz");
            quantlens::parse_npy_header(head, "fuzz.npz", member.name);
            quantlens::inflate_member(bytes, member, member.uncompressed_size, "fuzz.npz");
        }
    } catch (const quantlens::Error&) {
    }
    return 0;
}

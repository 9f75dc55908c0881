#pragma once
// NumPy .npy (format versions 1-3) and .npz (a zip of .npy members, stored or deflated).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/model_file.hpp"
#include "io/safetensors.hpp"  // TensorToWrite

namespace quantlens {

struct NpyHeader {
    DType dtype = DType::F32;
    bool big_endian = false;
    bool fortran_order = false;
    std::vector<std::int64_t> shape;
    std::uint64_t data_offset = 0;  // from the start of the .npy bytes
    std::uint64_t byte_size = 0;
};

// Parses the magic, version and header dict. `bytes` may be just the beginning of the
// array (enough to hold the header); `field` names the member for error messages.
NpyHeader parse_npy_header(std::span<const std::byte> bytes, const std::string& path,
                           const std::string& field);

// The array's bytes in C order and little-endian (copies only when the file differs).
std::vector<std::byte> npy_to_c_order(const NpyHeader& header, std::span<const std::byte> stored);

struct ZipMember {
    std::string name;
    std::uint16_t method = 0;  // 0 stored, 8 deflate
    std::uint32_t crc32 = 0;
    std::uint64_t compressed_size = 0;
    std::uint64_t uncompressed_size = 0;
    std::uint64_t data_offset = 0;  // of the member's (compressed) bytes in the archive
};

std::vector<ZipMember> parse_zip_directory(std::span<const std::byte> archive, const std::string& path);

// Inflates at most `limit` bytes of a member (the whole member when limit >= its size),
// checking the CRC when the whole member is inflated.
std::vector<std::byte> inflate_member(std::span<const std::byte> archive, const ZipMember& member,
                                      std::uint64_t limit, const std::string& path);

std::unique_ptr<ModelFile> open_npy(const std::string& path);
std::unique_ptr<ModelFile> open_npz(const std::string& path);

std::string npy_header_bytes(DType dtype, const std::vector<std::int64_t>& shape);
// Writes an .npz of stored members `<name>.npy` atomically (members under 4 GiB).
void write_npz(const std::string& path, const std::vector<TensorToWrite>& tensors);
void write_npy(const std::string& path, const TensorToWrite& tensor);

}  // namespace quantlens

#pragma once
// What a reader knows about a tensor without reading it (TensorInfo), its stored bytes
// (TensorBytes: a view into a mapped file or an owned buffer) and its values as float32
// (FloatValues: zero-copy when the tensor is stored as aligned float32).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tensor/dtype.hpp"

namespace quantlens {

struct StoredQuantization;  // tensor/stored_quantization.hpp

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;  // outermost first (C order); GGUF's ne[] reversed
    std::uint64_t byte_size = 0;
    std::uint32_t unknown_type = 0;  // when dtype is Unknown: the file's type id (a ggml type)
    // Set when the file stores this weight as codes, scales and zero points of their own: the
    // tensor is then float32 (byte_size counts those bytes) and reading it dequantizes.
    std::shared_ptr<const StoredQuantization> quantization = nullptr;
    std::uint64_t elements() const;
    // The bytes the file spends on it: byte_size, or for a stored quantization all its parts.
    std::uint64_t stored_size() const;
};

// How a tensor is stored, for display: the type's name, "ggml type N (unknown)", or a stored
// quantization's ("int8 per-channel").
std::string stored_type_name(const TensorInfo& info);

class TensorBytes {
public:
    // A view that keeps `owner` (usually the MappedFile) alive while it lives.
    static TensorBytes view(std::shared_ptr<const void> owner, std::span<const std::byte> bytes);
    static TensorBytes owned(std::vector<std::byte> bytes);
    // A view into a read-only file mapping: its pages may be dropped from this process once
    // read (release_pages), since the kernel re-reads them from the file if touched again.
    static TensorBytes file_view(std::shared_ptr<const void> mapping, std::span<const std::byte> bytes);
    // Drops the whole pages of a file view from the resident set (madvise MADV_DONTNEED), so
    // streaming through a model larger than RAM keeps RSS at about one layer. No-op otherwise.
    void release_pages() const;
    // Not callable on a temporary: the span lives only as long as this object's owner.
    std::span<const std::byte> bytes() const& { return bytes_; }
    std::span<const std::byte> bytes() const&& = delete;
    bool is_view() const { return !owns_; }

private:
    // The span points into memory `owner_` keeps alive (a mapped file, a parsed protobuf,
    // or an owned vector), so copies of a TensorBytes stay valid.
    std::shared_ptr<const void> owner_;
    std::span<const std::byte> bytes_;
    bool owns_ = false;
    bool file_backed_ = false;
};

class FloatValues {
public:
    FloatValues() = default;
    static FloatValues decode(const TensorInfo& info, TensorBytes bytes, const std::string& file);
    std::span<const float> values() const& { return values_; }
    std::span<const float> values() const&& = delete;
    bool zero_copy() const { return zero_copy_; }

private:
    std::shared_ptr<const void> owner_;  // the TensorBytes' owner, or the decoded vector
    std::span<const float> values_;
    bool zero_copy_ = false;
};

}  // namespace quantlens

#include "tensor/tensor.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include "tensor/convert.hpp"
#include "tensor/ggml_blocks.hpp"
#include "tensor/stored_quantization.hpp"
#include "util/error.hpp"
#include "util/huge_page_buffer.hpp"

namespace quantlens {

namespace {
constexpr std::size_t kHugePageThreshold = std::size_t{4} << 20;  // smaller tensors stay in ordinary vectors
}

std::uint64_t TensorInfo::elements() const {
    return element_count(shape).value_or(0);
}

std::uint64_t TensorInfo::stored_size() const {
    return quantization ? quantization->stored_bytes() : byte_size;
}

std::string stored_type_name(const TensorInfo& info) {
    if (info.quantization)
        return info.quantization->type_name();
    if (info.dtype == DType::Unknown)
        return "ggml type " + std::to_string(info.unknown_type) + " (unknown)";
    return std::string(dtype_name(info.dtype));
}

TensorBytes TensorBytes::view(std::shared_ptr<const void> owner, std::span<const std::byte> bytes) {
    TensorBytes result;
    result.owner_ = std::move(owner);
    result.bytes_ = bytes;
    return result;
}

TensorBytes TensorBytes::file_view(std::shared_ptr<const void> mapping, std::span<const std::byte> bytes) {
    TensorBytes result = view(std::move(mapping), bytes);
    result.file_backed_ = true;
    return result;
}

void TensorBytes::release_pages() const {
    if (!file_backed_ || bytes_.empty())
        return;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = (reinterpret_cast<std::uintptr_t>(bytes_.data()) + page - 1) / page * page;
    const auto end = (reinterpret_cast<std::uintptr_t>(bytes_.data()) + bytes_.size()) / page * page;
    if (end > begin)
        ::madvise(reinterpret_cast<void*>(begin), end - begin,
                  MADV_DONTNEED);  // advisory: failure changes nothing
}

TensorBytes TensorBytes::owned(std::vector<std::byte> bytes) {
    auto storage = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
    TensorBytes result;
    result.bytes_ = *storage;
    result.owner_ = std::move(storage);
    result.owns_ = true;
    return result;
}

FloatValues FloatValues::decode(const TensorInfo& info, TensorBytes bytes, const std::string& file) {
    if (info.dtype == DType::Unknown)
        throw Error(file, info.name,
                    "is stored as " + stored_type_name(info) +
                        ", which this QuantLens cannot decode (it reads every ggml type up to 42, Q2_0); the "
                        "tensor is listed, but its values cannot be read");
    const std::uint64_t count = info.elements();
    if (bytes.bytes().size() != storage_bytes(info.dtype, count).value_or(~0ull))
        throw Error(file, info.name,
                    "holds " + std::to_string(bytes.bytes().size()) + " bytes but shape " +
                        shape_text(info.shape) + " of " + std::string(dtype_name(info.dtype)) + " needs " +
                        std::to_string(storage_bytes(info.dtype, count).value_or(0)));
    FloatValues result;
    auto raw = bytes.bytes();
    if (info.dtype == DType::F32 && reinterpret_cast<std::uintptr_t>(raw.data()) % alignof(float) == 0) {
        result.values_ = {reinterpret_cast<const float*>(raw.data()), static_cast<std::size_t>(count)};
        result.zero_copy_ = bytes.is_view();
        // Zero-copy: the mapped pages are released when the last user of these values is done.
        result.owner_ =
            std::shared_ptr<TensorBytes>(new TensorBytes(std::move(bytes)), [](TensorBytes* held) {
                held->release_pages();
                delete held;
            });
        return result;
    }
    // Large tensors decode into huge-page memory: on 4 KiB pages, zero-filling and
    // first-touching a 4096² layer's 64 MiB took longer here than decoding it.
    const auto n = static_cast<std::size_t>(count);
    float* data = nullptr;
    if (n * sizeof(float) >= kHugePageThreshold) {
        auto buffer = std::make_shared<HugePageBuffer>(n * sizeof(float));
        data = buffer->as<float>();
        result.owner_ = std::move(buffer);
    } else {
        auto vector = std::make_shared<std::vector<float>>(n);
        data = vector->data();
        result.owner_ = std::move(vector);
    }
    decode_to_f32(info.dtype, raw, std::span<float>(data, n));
    bytes.release_pages();
    result.values_ = {data, n};
    return result;
}

}  // namespace quantlens

#include "io/gguf.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

template <class T>
void append(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

void append_string(std::string& out, const std::string& text) {
    append<std::uint64_t>(out, text.size());
    out += text;
}

}  // namespace

GgufValue gguf_string(std::string key, const std::string& value) {
    GgufValue kv{std::move(key), GgufType::STRING, {}, value};
    append_string(kv.raw, value);
    return kv;
}

GgufValue gguf_u32(std::string key, std::uint32_t value) {
    GgufValue kv{std::move(key), GgufType::UINT32, {}, value};
    append(kv.raw, value);
    return kv;
}

GgufValue gguf_f32(std::string key, float value) {
    GgufValue kv{std::move(key), GgufType::FLOAT32, {}, value};
    append(kv.raw, value);
    return kv;
}

GgufValue gguf_string_array(std::string key, const std::vector<std::string>& values) {
    GgufValue kv{std::move(key), GgufType::ARRAY, {}, values};
    append(kv.raw, static_cast<std::uint32_t>(GgufType::STRING));
    append<std::uint64_t>(kv.raw, values.size());
    for (const auto& value : values) append_string(kv.raw, value);
    return kv;
}

void write_gguf(const std::string& path, const std::vector<GgufValue>& metadata,
                const std::vector<TensorToWrite>& tensors) {
    std::uint32_t alignment = 32;
    for (const auto& kv : metadata)
        if (kv.key == "general.alignment") alignment = kv.value.get<std::uint32_t>();
    auto pad = [alignment](std::uint64_t n) { return (alignment - n % alignment) % alignment; };

    std::string header = "GGUF";
    append<std::uint32_t>(header, 3);
    append<std::uint64_t>(header, tensors.size());
    append<std::uint64_t>(header, metadata.size());
    for (const auto& kv : metadata) {
        append_string(header, kv.key);
        append(header, static_cast<std::uint32_t>(kv.type));
        header += kv.raw;
    }
    std::uint64_t offset = 0;
    for (const auto& tensor : tensors) {
        auto ggml = ggml_from_dtype(tensor.dtype);
        auto needed = storage_bytes(tensor.dtype, element_count(tensor.shape).value_or(0));
        if (!ggml) throw Error(path, tensor.name, std::string(dtype_name(tensor.dtype)) + " has no ggml type");
        if (tensor.shape.empty() || tensor.shape.size() > 4) throw Error(path, tensor.name, "GGUF tensors have 1 to 4 dimensions, found " + std::to_string(tensor.shape.size()));
        if (!needed || *needed != tensor.bytes.size() || tensor.shape.back() % dtype_info(tensor.dtype).block_elements != 0)
            throw Error(path, tensor.name, "shape " + shape_text(tensor.shape) + " does not match " + std::to_string(tensor.bytes.size()) + " bytes of " + std::string(dtype_name(tensor.dtype)) + " (rows must be whole blocks)");
        append_string(header, tensor.name);
        append<std::uint32_t>(header, static_cast<std::uint32_t>(tensor.shape.size()));
        for (auto it = tensor.shape.rbegin(); it != tensor.shape.rend(); ++it) append<std::uint64_t>(header, static_cast<std::uint64_t>(*it));
        append<std::uint32_t>(header, *ggml);
        append<std::uint64_t>(header, offset);
        offset += tensor.bytes.size() + pad(tensor.bytes.size());
    }
    AtomicFile out(path);
    out.write(header.data(), header.size());
    out.write_zeros(pad(header.size()));
    for (const auto& tensor : tensors) {
        out.write(tensor.bytes);
        out.write_zeros(pad(tensor.bytes.size()));
    }
    out.commit();
}

}  // namespace quantlens

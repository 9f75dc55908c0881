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
    for (const auto& value : values)
        append_string(kv.raw, value);
    return kv;
}

GgufStreamWriter::GgufStreamWriter(const std::string& path, const std::vector<GgufValue>& metadata,
                                   std::vector<GgufTensorDeclaration> tensors)
    : path_(path), tensors_(std::move(tensors)) {
    for (const auto& kv : metadata)
        if (kv.key == "general.alignment")
            alignment_ = kv.value.get<std::uint32_t>();
    if (alignment_ == 0 || alignment_ % 8 != 0)
        throw Error(path, "general.alignment",
                    "must be a positive multiple of 8, found " + std::to_string(alignment_));
    const auto pad = [this](std::uint64_t n) {
        return (alignment_ - n % alignment_) % alignment_;
    };

    std::string header = "GGUF";
    append<std::uint32_t>(header, 3);
    append<std::uint64_t>(header, tensors_.size());
    append<std::uint64_t>(header, metadata.size());
    for (const auto& kv : metadata) {
        append_string(header, kv.key);
        append(header, static_cast<std::uint32_t>(kv.type));
        header += kv.raw;
    }
    std::uint64_t offset = 0;
    for (const auto& tensor : tensors_) {
        const auto ggml = ggml_from_dtype(tensor.dtype);
        const auto needed = storage_bytes(tensor.dtype, element_count(tensor.shape).value_or(0));
        if (!ggml)
            throw Error(path, tensor.name, std::string(dtype_name(tensor.dtype)) + " has no ggml type");
        if (tensor.shape.empty() || tensor.shape.size() > 4)
            throw Error(path, tensor.name,
                        "GGUF tensors have 1 to 4 dimensions, found " + std::to_string(tensor.shape.size()));
        if (!needed || tensor.shape.back() % dtype_info(tensor.dtype).block_elements != 0)
            throw Error(path, tensor.name,
                        "rows of shape " + shape_text(tensor.shape) + " are not whole blocks of " +
                            std::string(dtype_name(tensor.dtype)));
        sizes_.push_back(*needed);
        append_string(header, tensor.name);
        append<std::uint32_t>(header, static_cast<std::uint32_t>(tensor.shape.size()));
        for (auto it = tensor.shape.rbegin(); it != tensor.shape.rend(); ++it)
            append<std::uint64_t>(header, static_cast<std::uint64_t>(*it));
        append<std::uint32_t>(header, *ggml);
        append<std::uint64_t>(header, offset);
        offset += *needed + pad(*needed);
    }
    out_ = std::make_unique<AtomicFile>(path);
    out_->write(header.data(), header.size());
    out_->write_zeros(pad(header.size()));
}

void GgufStreamWriter::write_tensor(std::span<const std::byte> bytes) {
    if (next_ >= tensors_.size())
        throw Error(path_, "", "more tensors written than declared");
    const auto& tensor = tensors_[next_];
    if (bytes.size() != sizes_[next_])
        throw Error(path_, tensor.name,
                    std::to_string(bytes.size()) + " bytes given for shape " + shape_text(tensor.shape) +
                        " of " + std::string(dtype_name(tensor.dtype)) + ", which needs " +
                        std::to_string(sizes_[next_]));
    out_->write(bytes);
    out_->write_zeros((alignment_ - bytes.size() % alignment_) % alignment_);
    ++next_;
}

void GgufStreamWriter::commit() {
    if (next_ != tensors_.size())
        throw Error(path_, "",
                    std::to_string(tensors_.size() - next_) + " declared tensors were not written");
    out_->commit();
}

void write_gguf(const std::string& path, const std::vector<GgufValue>& metadata,
                const std::vector<TensorToWrite>& tensors) {
    std::vector<GgufTensorDeclaration> declared;
    for (const auto& tensor : tensors)
        declared.push_back({tensor.name, tensor.dtype, tensor.shape});
    GgufStreamWriter writer(path, metadata, std::move(declared));
    for (const auto& tensor : tensors)
        writer.write_tensor(tensor.bytes);
    writer.commit();
}

}  // namespace quantlens

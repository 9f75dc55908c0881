#include <cstring>

#include "io/safetensors.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace quantlens {

SafetensorsStreamWriter::SafetensorsStreamWriter(const std::string& path,
                                                 std::vector<TensorDeclaration> tensors,
                                                 const std::map<std::string, std::string>& metadata)
    : path_(path), tensors_(std::move(tensors)) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& tensor : tensors_) {
        if (dtype_info(tensor.dtype).is_block || onnx_only(tensor.dtype))
            throw Error(path, tensor.name,
                        "safetensors has no dtype " + std::string(dtype_name(tensor.dtype)));
        if (header.contains(tensor.name))
            throw Error(path, tensor.name, "declared twice");
        const auto needed = storage_bytes(tensor.dtype, element_count(tensor.shape).value_or(0));
        if (!needed)
            throw Error(path, tensor.name, "shape " + shape_text(tensor.shape) + " has no valid size");
        header[tensor.name] = {{"dtype", std::string(dtype_name(tensor.dtype))},
                               {"shape", tensor.shape},
                               {"data_offsets", {offset, offset + *needed}}};
        offset += *needed;
        sizes_.push_back(*needed);
    }
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // pad so the data buffer is 8-byte aligned
    out_ = std::make_unique<AtomicFile>(path);
    const std::uint64_t n = text.size();
    out_->write(&n, 8);
    out_->write(text.data(), text.size());
}

SafetensorsStreamWriter::~SafetensorsStreamWriter() = default;

void SafetensorsStreamWriter::write_tensor(std::span<const std::byte> bytes) {
    if (next_ >= tensors_.size())
        throw Error(path_, "", "more tensors written than declared");
    const auto& tensor = tensors_[next_];
    if (bytes.size() != sizes_[next_])
        throw Error(path_, tensor.name,
                    "has " + std::to_string(bytes.size()) + " bytes, shape " + shape_text(tensor.shape) +
                        " needs " + std::to_string(sizes_[next_]));
    out_->write(bytes);
    ++next_;
}

void SafetensorsStreamWriter::commit() {
    if (next_ != tensors_.size())
        throw Error(path_, "",
                    std::to_string(tensors_.size() - next_) + " declared tensors were not written");
    out_->commit();
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<TensorDeclaration> declared;
    for (const auto& tensor : tensors)
        declared.push_back({tensor.name, tensor.dtype, tensor.shape});
    SafetensorsStreamWriter writer(path, std::move(declared), metadata);
    for (const auto& tensor : tensors)
        writer.write_tensor(tensor.bytes);
    writer.commit();
}

}  // namespace quantlens

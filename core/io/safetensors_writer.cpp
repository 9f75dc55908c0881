#include <cstring>

#include "io/safetensors.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace quantlens {

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& tensor : tensors) {
        if (dtype_info(tensor.dtype).is_block)
            throw Error(path, tensor.name, std::string(dtype_name(tensor.dtype)) + " is a ggml block type; safetensors has no such dtype");
        auto needed = storage_bytes(tensor.dtype, element_count(tensor.shape).value_or(0));
        if (!needed || *needed != tensor.bytes.size())
            throw Error(path, tensor.name, "has " + std::to_string(tensor.bytes.size()) + " bytes, shape " + shape_text(tensor.shape) + " needs " + std::to_string(needed.value_or(0)));
        header[tensor.name] = {{"dtype", std::string(dtype_name(tensor.dtype))},
                               {"shape", tensor.shape},
                               {"data_offsets", {offset, offset + tensor.bytes.size()}}};
        offset += tensor.bytes.size();
    }
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // pad so the data buffer is 8-byte aligned
    AtomicFile out(path);
    std::uint64_t n = text.size();
    out.write(&n, 8);
    out.write(text.data(), text.size());
    for (const auto& tensor : tensors) out.write(tensor.bytes);
    out.commit();
}

}  // namespace quantlens

#include "io/model_file.hpp"

#include "util/error.hpp"

namespace quantlens {

const TensorInfo& ModelFile::tensor(std::string_view name) const {
    auto it = index_.find(std::string(name));
    if (it == index_.end())
        throw Error(path_, std::string(name), "no tensor of that name");
    return tensors_[it->second];
}

void ModelFile::add_tensor(TensorInfo info) {
    if (!index_.emplace(info.name, tensors_.size()).second)
        throw Error(path_, info.name, "tensor name appears twice");
    tensors_.push_back(std::move(info));
}

TensorBytes ModelFile::read(const TensorInfo& info) const {
    TensorBytes bytes = read_bytes(info);
    if (bytes.bytes().size() != info.byte_size)
        throw Error(path_, info.name,
                    "read " + std::to_string(bytes.bytes().size()) + " bytes, expected " +
                        std::to_string(info.byte_size));
    return bytes;
}

FloatValues ModelFile::read_f32(const TensorInfo& info) const {
    return FloatValues::decode(info, read(info), path_);
}

}  // namespace quantlens

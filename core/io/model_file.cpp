#include "io/model_file.hpp"

#include <cstring>

#include "tensor/stored_quantization.hpp"
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
    if (info.quantization)
        return dequantized(info);
    TensorBytes bytes = read_bytes(info);
    if (bytes.bytes().size() != info.byte_size)
        throw Error(path_, info.name,
                    "read " + std::to_string(bytes.bytes().size()) + " bytes, expected " +
                        std::to_string(info.byte_size));
    return bytes;
}

TensorBytes ModelFile::dequantized(const TensorInfo& info) const {
    const auto& q = *info.quantization;
    auto part = [&](const std::optional<TensorInfo>& optional) {
        return optional ? read(*optional) : TensorBytes::owned({});
    };
    const TensorBytes codes = read(q.codes), scales = read(q.scales), zero_points = part(q.zero_points),
                      group_index = part(q.group_index), scale_factor = part(q.scale_factor);
    const auto values = dequantize_stored(path_, q, codes.bytes(), scales.bytes(), zero_points.bytes(),
                                          group_index.bytes(), scale_factor.bytes());
    std::vector<std::byte> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return TensorBytes::owned(std::move(bytes));
}

FloatValues ModelFile::read_f32(const TensorInfo& info) const {
    return FloatValues::decode(info, read(info), path_);
}

}  // namespace quantlens

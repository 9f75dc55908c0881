#include "io/model_file.hpp"

#include <cstring>
#include <map>

#include "io/checkpoint_quantized.hpp"
#include "tensor/convert.hpp"
#include "tensor/stored_quantization.hpp"
#include "util/error.hpp"

namespace quantlens {

const TensorInfo& ModelFile::tensor(std::string_view name) const {
    auto it = index_.find(std::string(name));
    if (it == index_.end())
        throw Error(path_, std::string(name), "no tensor of that name");
    return tensors_[it->second];
}

const TensorInfo& ModelFile::tensor_or_part(std::string_view name) const {
    if (auto it = index_.find(std::string(name)); it != index_.end())
        return tensors_[it->second];
    if (auto it = folded_parts_.find(std::string(name)); it != folded_parts_.end())
        return it->second;
    throw Error(path_, std::string(name), "no tensor of that name");
}

void ModelFile::add_tensor(TensorInfo info) {
    if (!index_.emplace(info.name, tensors_.size()).second)
        throw Error(path_, info.name, "tensor name appears twice");
    tensors_.push_back(std::move(info));
}

void ModelFile::fold_checkpoint_weights() {
    auto found = find_checkpoint_weights(
        tensors_, config_, [this](const TensorInfo& info) { return read(info); }, path_);
    if (found.consumed.empty())
        return;
    // Each new weight goes where the first of its parts was listed.
    std::map<std::string, std::size_t> first_part;
    for (std::size_t i = 0; i < found.weights.size(); ++i) {
        const auto& q = *found.weights[i].quantization;
        std::vector<std::string> names{q.codes.name, q.scales.name};
        for (const auto& name : names)
            first_part.emplace(name, i);
    }
    std::vector<TensorInfo> listed;
    std::vector<bool> placed(found.weights.size(), false);
    for (auto& tensor : tensors_) {
        if (const auto it = first_part.find(tensor.name); it != first_part.end() && !placed[it->second]) {
            placed[it->second] = true;
            listed.push_back(found.weights[it->second]);
        }
        if (found.consumed.count(tensor.name))
            folded_parts_.emplace(tensor.name, std::move(tensor));
        else
            listed.push_back(std::move(tensor));
    }
    for (const auto& missing : found.left_out)
        left_out_.push_back(missing);
    // Parts stay readable by name (read_bytes): only the listing changes.
    tensors_.clear();
    index_.clear();
    for (auto& tensor : listed)
        add_tensor(std::move(tensor));
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

void ModelFile::read_f32_into(const TensorInfo& info, std::vector<float>& out) const {
    const auto count = static_cast<std::size_t>(info.elements());
    if (info.quantization && info.quantization->packing != CheckpointPacking::None) {
        const auto& q = *info.quantization;
        auto part = [&](const std::optional<TensorInfo>& optional) {
            return optional ? read(*optional) : TensorBytes::owned({});
        };
        const TensorBytes codes = read(q.codes), scales = read(q.scales), zero_points = part(q.zero_points),
                          group_index = part(q.group_index);
        std::vector<TensorBytes> tables;
        std::vector<std::span<const std::byte>> table_bytes;
        for (const auto& table : q.tables)
            tables.push_back(read(table));
        for (const auto& table : tables)
            table_bytes.push_back(table.bytes());
        out.resize(count);
        dequantize_checkpoint_into(path_, q, codes.bytes(), scales.bytes(), zero_points.bytes(),
                                   group_index.bytes(), table_bytes, out);
        codes.release_pages();
        return;
    }
    if (info.quantization || info.dtype == DType::Unknown) {  // the ONNX forms; an undecodable type's error
        const auto values = read_f32(info);
        out.assign(values.values().begin(), values.values().end());
        return;
    }
    const TensorBytes bytes = read(info);
    if (bytes.bytes().size() != storage_bytes(info.dtype, info.elements()).value_or(~0ull))
        throw Error(path_, info.name,
                    "holds " + std::to_string(bytes.bytes().size()) + " bytes, not what shape " +
                        shape_text(info.shape) + " of " + std::string(dtype_name(info.dtype)) + " needs");
    out.resize(count);
    decode_to_f32(info.dtype, bytes.bytes(), out);
    bytes.release_pages();
}

TensorBytes ModelFile::dequantized(const TensorInfo& info) const {
    const auto& q = *info.quantization;
    auto part = [&](const std::optional<TensorInfo>& optional) {
        return optional ? read(*optional) : TensorBytes::owned({});
    };
    const TensorBytes codes = read(q.codes), scales = read(q.scales), zero_points = part(q.zero_points),
                      group_index = part(q.group_index), scale_factor = part(q.scale_factor);
    std::vector<float> values;
    if (q.packing == CheckpointPacking::None) {
        values = dequantize_stored(path_, q, codes.bytes(), scales.bytes(), zero_points.bytes(),
                                   group_index.bytes(), scale_factor.bytes());
    } else {
        std::vector<TensorBytes> tables;
        std::vector<std::span<const std::byte>> table_bytes;
        for (const auto& table : q.tables)
            tables.push_back(read(table));
        for (const auto& table : tables)
            table_bytes.push_back(table.bytes());
        values = dequantize_checkpoint(path_, q, codes.bytes(), scales.bytes(), zero_points.bytes(),
                                       group_index.bytes(), table_bytes);
    }
    codes.release_pages();
    std::vector<std::byte> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return TensorBytes::owned(std::move(bytes));
}

FloatValues ModelFile::read_f32(const TensorInfo& info) const {
    return FloatValues::decode(info, read(info), path_);
}

}  // namespace quantlens

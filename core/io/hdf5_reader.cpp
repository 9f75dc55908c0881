#include <hdf5.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "io/hdf5.hpp"
#include "io/hdf5_probe.hpp"
#include "io/hdf5_types.hpp"
#include "io/json_limits.hpp"
#include "util/error.hpp"
#include "util/memory_budget.hpp"
#include "util/progress.hpp"
#include "util/utf8.hpp"

namespace quantlens {

namespace {

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
    if (info->type == H5O_TYPE_DATASET)
        static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
}

std::string base_weight_name(const std::string& name) {  // "dense/kernel:0" -> "kernel"
    std::string base = name.substr(name.rfind('/') == std::string::npos ? 0 : name.rfind('/') + 1);
    if (auto colon = base.find(':'); colon != std::string::npos)
        base.resize(colon);
    return base;
}

class Hdf5Model final : public ModelFile {
public:
    explicit Hdf5Model(const std::string& path) : ModelFile(path) {
        if (!in_hdf5_probe())  // first, the whole file read in a child that may crash (io/hdf5_probe)
            probe_in_child(path, [&path] {
                Hdf5Model model(path);
                for (const auto& info : model.tensors())
                    model.read_bytes(info);
            });
        std::lock_guard lock(hdf5_mutex());
        file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file_ < 0)
            throw Error(path, "", "HDF5 library cannot open the file (corrupt or not HDF5)");
        std::vector<std::string> datasets;
        if (H5Ovisit2(file_, H5_INDEX_NAME, H5_ITER_NATIVE, collect_dataset, &datasets, H5O_INFO_BASIC) < 0)
            throw Error(path, "", "HDF5 library cannot walk the groups");
        for (const auto& name : datasets)
            add_tensor(describe(name));
        read_keras_layout();
    }
    ~Hdf5Model() override {
        std::lock_guard lock(hdf5_mutex());
        if (file_ >= 0)
            H5Fclose(file_);
    }
    std::string_view format() const override { return keras_ ? "keras-h5" : "hdf5"; }

protected:
    TensorBytes read_bytes(const TensorInfo& info) const override {
        std::lock_guard lock(hdf5_mutex());
        Handle dataset(H5Dopen2(file_, info.name.c_str(), confined_dataset_access()), H5Dclose);
        if (dataset.id < 0)
            throw Error(path_, info.name, "cannot open dataset");
        refuse_outside_storage(dataset.id, path_, info.name);
        Handle memory_type(memory_type_for(info.dtype), H5Tclose);
        require_memory(info.byte_size, path_, info.name, "reading the dataset");
        std::vector<std::byte> bytes(info.byte_size);
        if (info.byte_size)
            read_in_slices(dataset.id, memory_type.id, info, bytes);
        return TensorBytes::owned(std::move(bytes));
    }

    // Reads a dataset a band of rows (first dimension) at a time, about 16 MiB each, so a cancel
    // is seen between bands and the filters' work comes in bounded steps.
    void read_in_slices(hid_t dataset, hid_t memory_type, const TensorInfo& info,
                        std::vector<std::byte>& bytes) const {
        auto fail = [&] {
            throw Error(path_, info.name,
                        "HDF5 library failed to read the dataset (corrupt data or filter unavailable)");
        };
        if (info.shape.empty() || info.shape[0] <= 1) {
            throw_if_read_cancelled();
            if (H5Dread(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0)
                fail();
            return;
        }
        const auto rows = static_cast<std::uint64_t>(info.shape[0]);
        const std::uint64_t row_bytes = info.byte_size / rows;
        const std::uint64_t band =
            std::max<std::uint64_t>(1, (16u << 20) / std::max<std::uint64_t>(row_bytes, 1));
        Handle file_space(H5Dget_space(dataset), H5Sclose);
        std::vector<hsize_t> start(info.shape.size(), 0), count(info.shape.begin(), info.shape.end());
        for (std::uint64_t row = 0; row < rows; row += band) {
            throw_if_read_cancelled();
            start[0] = row;
            count[0] = std::min(band, rows - row);
            Handle memory_space(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr),
                                H5Sclose);
            if (file_space.id < 0 || memory_space.id < 0 ||
                H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, start.data(), nullptr, count.data(),
                                    nullptr) < 0 ||
                H5Dread(dataset, memory_type, memory_space.id, file_space.id, H5P_DEFAULT,
                        bytes.data() + row * row_bytes) < 0)
                fail();
        }
    }

private:
    TensorInfo describe(const std::string& name) {
        Handle dataset(H5Dopen2(file_, name.c_str(), confined_dataset_access()), H5Dclose);
        if (dataset.id < 0)
            throw Error(path_, name, "cannot open dataset");
        refuse_outside_storage(dataset.id, path_, name);
        TensorInfo info;
        info.name = name;
        if (!valid_utf8(name))
            throw Error(path_, "dataset name", "is not valid UTF-8");
        Handle type(H5Dget_type(dataset.id), H5Tclose);
        auto dtype = dtype_of_dataset(dataset.id, type.id);
        if (!dtype)
            throw Error(path_, name,
                        "dataset type is not a number type QuantLens reads (floats, integers, bool)");
        info.dtype = *dtype;
        Handle space(H5Dget_space(dataset.id), H5Sclose);
        int rank = H5Sget_simple_extent_ndims(space.id);
        if (rank < 0 || rank > 32)
            throw Error(path_, name, "dataspace is not a simple array");
        std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
        H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
        for (auto dim : dims)
            info.shape.push_back(static_cast<std::int64_t>(dim));
        auto elements = element_count(info.shape);
        auto bytes = elements ? storage_bytes(info.dtype, *elements) : std::nullopt;
        if (!bytes)
            throw Error(path_, name, "element count overflows 64 bits");
        info.byte_size = *bytes;
        return info;
    }

    void read_keras_layout() {
        std::string model_config = string_attribute(file_, ".", "model_config");
        std::string layer_root =
            H5Lexists(file_, "model_weights", confined_link_access()) > 0 ? "model_weights" : ".";
        auto layer_names = string_array_attribute(file_, layer_root, "layer_names");
        if (layer_names.empty())
            return;
        keras_ = true;
        metadata_["keras_version"] = string_attribute(file_, ".", "keras_version");
        metadata_["backend"] = string_attribute(file_, ".", "backend");
        std::vector<std::pair<std::string, std::vector<std::string>>> weights;
        for (const auto& layer : layer_names) {
            std::string group = layer_root == "." ? layer : layer_root + "/" + layer;
            if (H5Lexists(file_, group.c_str(), confined_link_access()) <= 0)
                throw Error(path_, "layer_names",
                            "names layer \"" + layer + "\" but there is no group " + group);
            std::vector<std::string> tensors;
            for (const auto& weight : string_array_attribute(file_, group, "weight_names")) {
                std::string tensor_name = group + "/" + weight;
                this->tensor(tensor_name);  // throws when the dataset does not exist
                tensors.push_back(tensor_name);
            }
            weights.emplace_back(layer, std::move(tensors));
        }
        graph_layers_ = keras_layers(model_config, weights, path_);
        for (auto& layer : graph_layers_) {  // weights-only files: the kernel's rank decides
            if (layer.kind != LayerKind::Other || !layer.op.empty())
                continue;
            auto rank = this->tensor(layer.weight).shape.size();
            if (rank == 2) {
                layer.kind = LayerKind::Linear;
                layer.orientation = Orientation::InOut;
            }
            if (rank == 3 || rank == 4) {
                layer.kind = LayerKind::Conv;
                layer.orientation = Orientation::KerasConv;
            }
        }
        if (!model_config.empty())
            config_ = parse_untrusted_json(model_config, path_, "model_config");
    }

    std::string string_attribute(hid_t object, const std::string& where, const std::string& name) const {
        auto values = read_string_attribute(object, where, name, path_);
        return values.empty() ? std::string() : values.front();
    }
    std::vector<std::string> string_array_attribute(hid_t object, const std::string& where,
                                                    const std::string& name) const {
        return read_string_attribute(object, where, name, path_);
    }

    hid_t file_ = -1;
    bool keras_ = false;
};

LayerKind kind_of_keras_class(const std::string& class_name) {
    if (class_name == "Dense")
        return LayerKind::Linear;
    if (class_name.rfind("Conv", 0) == 0 || class_name.find("Conv") != std::string::npos)
        return LayerKind::Conv;
    if (class_name == "Embedding")
        return LayerKind::Embedding;
    if (class_name.find("Normalization") != std::string::npos)
        return LayerKind::Norm;
    return LayerKind::Other;
}

}  // namespace

std::vector<Layer> keras_layers(const std::string& model_config_json,
                                const std::vector<std::pair<std::string, std::vector<std::string>>>& weights,
                                const std::string& path) {
    std::map<std::string, std::string> class_of;  // layer name -> class_name
    if (!model_config_json.empty()) {
        auto config = parse_untrusted_json(model_config_json, path, "model_config");
        const nlohmann::json* layers = nullptr;
        if (config.is_object() && config.contains("config") && config["config"].is_object() &&
            config["config"].contains("layers"))
            layers = &config["config"]["layers"];
        else if (config.is_object() && config.contains("config") && config["config"].is_array())
            layers = &config["config"];  // very old Sequential configs
        if (!layers || !layers->is_array())
            throw Error(path, "model_config", "expected {\"class_name\", \"config\": {\"layers\": [...]}}");
        for (const auto& layer : *layers) {
            if (!layer.is_object() || !layer.contains("class_name") || !layer["class_name"].is_string() ||
                !layer.contains("config") || !layer["config"].is_object())
                throw Error(path, "model_config layers", "each layer needs \"class_name\" and \"config\"");
            const auto& layer_config = layer["config"];
            if (layer_config.contains("name") && layer_config["name"].is_string())
                class_of[layer_config["name"].get<std::string>()] = layer["class_name"].get<std::string>();
        }
    }
    std::vector<Layer> result;
    for (const auto& [name, tensors] : weights) {
        if (tensors.empty())
            continue;
        Layer layer;
        layer.name = name;
        auto known = class_of.find(name);
        layer.op = known != class_of.end() ? known->second : "";
        for (const auto& tensor : tensors) {
            auto base = base_weight_name(tensor);
            if (base == "kernel" || base == "depthwise_kernel" || base == "embeddings" || base == "gamma") {
                if (layer.weight.empty())
                    layer.weight = tensor;
                else
                    layer.others.push_back(tensor);
                if (base == "depthwise_kernel")
                    layer.orientation = Orientation::KerasDepthwise;
                if (layer.op.empty())
                    layer.op = base == "kernel"             ? ""
                               : base == "depthwise_kernel" ? "DepthwiseConv2D"
                               : base == "embeddings"       ? "Embedding"
                                                            : "BatchNormalization";
            } else if (base == "bias" || base == "beta") {
                if (!layer.bias)
                    layer.bias = tensor;
                else
                    layer.others.push_back(tensor);
            } else {
                layer.others.push_back(tensor);
            }
        }
        if (layer.weight.empty()) {
            layer.weight = tensors.front();
            layer.others.erase(std::remove(layer.others.begin(), layer.others.end(), layer.weight),
                               layer.others.end());
        }
        layer.kind = kind_of_keras_class(layer.op);
        if (layer.op.empty() || layer.kind == LayerKind::Other) {
            layer.kind = LayerKind::Other;  // decided from the weight's rank in model_builder when unknown
        }
        if (layer.kind == LayerKind::Linear)
            layer.orientation = Orientation::InOut;
        if (layer.kind == LayerKind::Conv && layer.orientation != Orientation::KerasDepthwise)
            layer.orientation = Orientation::KerasConv;
        result.push_back(std::move(layer));
    }
    return result;
}

}  // namespace quantlens

namespace quantlens {
std::unique_ptr<ModelFile> open_hdf5(const std::string& path) {
    return std::make_unique<Hdf5Model>(path);
}
}  // namespace quantlens

#include "sensitivity/labelled_data.hpp"

#include <cmath>

#include "io/open_model.hpp"
#include "nn/hf_graph.hpp"
#include "tensor/convert.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace {

const TensorInfo& find_named(const ModelFile& file, std::initializer_list<const char*> names,
                             const std::string& what) {
    for (const char* name : names)
        for (const auto& info : file.tensors())
            if (info.name == name)
                return info;
    throw Error(
        file.path(), what,
        "no tensor named " + std::string(*names.begin()) + " or " + std::string(*(names.begin() + 1)));
}

}  // namespace

LabelledData load_labelled_data(const std::string& path, std::size_t max_samples) {
    const auto file = open_model_file(path);
    const auto& x_info = find_named(*file, {"x", "inputs"}, "inputs");
    const auto& y_info = find_named(*file, {"y", "labels"}, "labels");
    if (x_info.shape.size() < 2 || x_info.shape[0] < 1)
        throw Error(path, x_info.name,
                    "inputs must be [samples, features] or [samples, height, width, channels], found " +
                        shape_text(x_info.shape));
    if (!dtype_info(x_info.dtype).is_float)
        throw Error(path, x_info.name,
                    "inputs must be floating point, found " + std::string(dtype_name(x_info.dtype)));
    if (y_info.shape.size() != 1 || y_info.shape[0] != x_info.shape[0])
        throw Error(path, y_info.name,
                    "labels must be 1-D with one per sample (" + std::to_string(x_info.shape[0]) +
                        "), found " + shape_text(y_info.shape));
    if (dtype_info(y_info.dtype).is_float || y_info.dtype == DType::BOOL)
        throw Error(path, y_info.name,
                    "labels must be integers, found " + std::string(dtype_name(y_info.dtype)));
    const auto samples = static_cast<std::size_t>(x_info.shape[0]);
    const auto kept = max_samples ? std::min(max_samples, samples) : samples;
    LabelledData data;
    data.path = path;
    data.sample_shape.assign(x_info.shape.begin() + 1, x_info.shape.end());
    const auto per_sample = static_cast<Eigen::Index>(x_info.elements() / samples);
    const auto x = file->read_f32(x_info);
    data.x =
        Eigen::Map<const nn::Matrix<float>>(x.values().data(), static_cast<Eigen::Index>(samples), per_sample)
            .topRows(static_cast<Eigen::Index>(kept))
            .cast<double>();
    for (Eigen::Index i = 0; i < data.x.size(); ++i)
        if (!std::isfinite(data.x.data()[i]))
            throw Error(path, x_info.name,
                        "sample " + std::to_string(i / per_sample) + " holds a non-finite value");
    const auto y = file->read_f32(y_info);
    for (std::size_t i = 0; i < kept; ++i)
        data.y.push_back(static_cast<std::int64_t>(y.values()[i]));
    return data;
}

LabelledData load_token_data(const std::string& path, std::size_t max_samples, std::int64_t window) {
    LabelledData data;
    data.path = path;
    data.tokens = true;
    const bool text = path.size() > 4 && path.compare(path.size() - 4, 4, ".txt") == 0;
    if (text) {
        const std::string bytes = read_small_file(path, std::size_t{1} << 30);
        auto samples = static_cast<std::size_t>(bytes.size() / static_cast<std::size_t>(window));
        if (samples == 0)
            throw Error(
                path, "text",
                std::to_string(bytes.size()) + " bytes: fewer than one window of " + std::to_string(window));
        if (max_samples)
            samples = std::min(samples, max_samples);
        data.x.resize(static_cast<Eigen::Index>(samples), window);
        for (Eigen::Index i = 0; i < data.x.size(); ++i)
            data.x.data()[i] = static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
        data.sample_shape = {window};
        return data;
    }
    const auto file = open_model_file(path);
    const TensorInfo* info = nullptr;
    for (const char* name : {"input_ids", "ids", "tokens"})
        for (const auto& t : file->tensors())
            if (!info && t.name == name)
                info = &t;
    if (!info)
        throw Error(path, "token ids",
                    "no tensor named input_ids, ids or tokens (or give a .txt file for a byte-level model)");
    if (info->shape.size() != 2 || info->shape[0] < 1 || info->shape[1] < 2)
        throw Error(
            path, info->name,
            "token ids must be [samples, tokens] with at least 2 tokens, found " + shape_text(info->shape));
    if (dtype_info(info->dtype).is_float || info->dtype == DType::BOOL)
        throw Error(path, info->name,
                    "token ids must be integers, found " + std::string(dtype_name(info->dtype)));
    const auto rows = info->shape[0], cols = info->shape[1];
    const auto kept =
        max_samples ? std::min<std::int64_t>(static_cast<std::int64_t>(max_samples), rows) : rows;
    const auto bytes = file->read(*info);
    std::vector<double> values(info->elements());
    decode_to_f64(info->dtype, bytes.bytes(), values);
    data.x = Eigen::Map<const nn::Matrix<double>>(values.data(), rows, cols).topRows(kept);
    data.sample_shape = {cols};
    return data;
}

LabelledData load_model_data(const Model& model, const std::string& path, std::size_t max_samples) {
    nn::require_engine_model(model);  // a model the engine cannot run is said first, by its model_type
    return nn::is_language_model(model) ? load_token_data(path, max_samples)
                                        : load_labelled_data(path, max_samples);
}

void check_fits(const LabelledData& data, const nn::Graph& graph, const std::string& model_path) {
    if (graph.next_token) {
        if (!data.tokens)
            throw Error(
                data.path, "inputs",
                model_path +
                    " is a language model: give token ids (input_ids [samples, tokens]) or a .txt file");
        for (Eigen::Index i = 0; i < data.x.size(); ++i)
            if (data.x.data()[i] < 0 || data.x.data()[i] >= static_cast<double>(graph.vocabulary))
                throw Error(data.path, "token ids",
                            "id " + std::to_string(static_cast<std::int64_t>(data.x.data()[i])) +
                                " at sample " + std::to_string(i / data.x.cols()) + " is outside " +
                                model_path + "'s vocabulary of " + std::to_string(graph.vocabulary));
        return;
    }
    if (data.tokens)
        throw Error(data.path, "inputs", model_path + " is a classifier: give inputs x and labels y");
    if (data.x.cols() != graph.input.size())
        throw Error(data.path, "inputs",
                    shape_text(data.sample_shape) + " = " + std::to_string(data.x.cols()) +
                        " values per sample; " + model_path + " takes " + nn::shape_text(graph.input) +
                        " = " + std::to_string(graph.input.size()));
    const auto classes = graph.nodes[static_cast<std::size_t>(graph.output)].out.size();
    for (std::size_t i = 0; i < data.y.size(); ++i)
        if (data.y[i] < 0 || data.y[i] >= classes)
            throw Error(data.path, "labels[" + std::to_string(i) + "]",
                        "class " + std::to_string(data.y[i]) + " outside " + model_path + "'s " +
                            std::to_string(classes) + " outputs");
}

}  // namespace quantlens

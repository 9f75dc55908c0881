#include "sensitivity/hessian_sensitivity.hpp"

#include <cmath>

#include "io/open_model.hpp"
#include "quant/quantizer.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

const TensorInfo& find_named(const ModelFile& file, std::initializer_list<const char*> names, const std::string& what) {
    for (const char* name : names)
        for (const auto& info : file.tensors())
            if (info.name == name) return info;
    throw Error(file.path(), what, "no tensor named " + std::string(*names.begin()) + " or " + std::string(*(names.begin() + 1)));
}

}  // namespace

LabelledData load_labelled_data(const std::string& path, std::size_t max_samples) {
    const auto file = open_model_file(path);
    const auto& x_info = find_named(*file, {"x", "inputs"}, "inputs");
    const auto& y_info = find_named(*file, {"y", "labels"}, "labels");
    if (x_info.shape.size() != 2) throw Error(path, x_info.name, "inputs must be 2-D [samples, features], found " + shape_text(x_info.shape));
    if (y_info.shape.size() != 1 || y_info.shape[0] != x_info.shape[0])
        throw Error(path, y_info.name, "labels must be 1-D with one per sample (" + std::to_string(x_info.shape[0]) + "), found " + shape_text(y_info.shape));
    if (dtype_info(y_info.dtype).is_float || y_info.dtype == DType::BOOL) throw Error(path, y_info.name, "labels must be integers, found " + std::string(dtype_name(y_info.dtype)));
    const auto samples = static_cast<std::size_t>(x_info.shape[0]);
    const auto kept = max_samples ? std::min(max_samples, samples) : samples;
    LabelledData data;
    const auto x = file->read_f32(x_info);
    data.x = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(x.values().data(), x_info.shape[0], x_info.shape[1])
                 .topRows(static_cast<Eigen::Index>(kept)).cast<double>();
    const auto y = file->read_f32(y_info);
    for (std::size_t i = 0; i < kept; ++i) data.y.push_back(static_cast<std::int64_t>(y.values()[i]));
    return data;
}

HessianReport hessian_sensitivity(const Model& model, const LabelledData& data, const std::vector<QuantSpec>& specs, const HessianOptions& options,
                                  const Progress& progress, const CancelToken* cancel) {
    const auto network = DenseNetwork::from_keras(model);
    if (data.x.cols() != static_cast<Eigen::Index>(network.input_size()))
        throw Error(model.file().path(), "calibration inputs", std::to_string(data.x.cols()) + " features per sample, the network takes " + std::to_string(network.input_size()));
    HessianReport report;
    report.samples = static_cast<std::size_t>(data.x.rows());
    report.specs = specs;
    report.loss = network.loss(data.x, data.y);
    const HessianVectorProduct hvp = [&](const Eigen::VectorXd& v) { return network.hessian_vector(data.x, data.y, v); };
    const auto blocks = network.blocks();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        if (progress) progress(b, blocks.size(), blocks[b].layer);
        LayerHessian layer;
        layer.layer = blocks[b].layer;
        layer.parameters = blocks[b].size;
        layer.hutchinson = hutchinson_trace(hvp, network.parameter_count(), blocks[b], options.hutchinson, cancel);
        if (options.exact) layer.exact = exact_block_trace(hvp, network.parameter_count(), blocks[b], cancel);
        const auto weights = model.read_weights(model.layer(layer.layer));
        for (const auto& spec : specs) {
            const auto result = quantize(as_matrix(weights.values(), weights.shape), spec);
            const double squared_error = result.metrics.mse * static_cast<double>(weights.values().size());
            layer.omega.push_back(hawq_sensitivity(layer.hutchinson.trace, layer.parameters, squared_error));
        }
        report.layers.push_back(std::move(layer));
    }
    if (progress) progress(blocks.size(), blocks.size(), "");
    return report;
}

}  // namespace quantlens

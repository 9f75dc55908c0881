#include "sensitivity/hessian_sensitivity.hpp"

#include <memory>

#include "nn/hf_graph.hpp"
#include "quant/quantizer.hpp"

namespace quantlens {

HessianVectorProduct hessian_vector_products(const nn::Network<double>& network, const nn::Matrix<double>& x,
                                             const std::vector<std::int64_t>& labels) {
    auto products = std::make_shared<nn::HessianVectorProducts>(network, x, labels);
    return [products](const Eigen::VectorXd& v) {
        return (*products)(v);
    };
}

double weight_squared_error(const Model& model, const std::string& layer, const QuantSpec& spec) {
    const auto weights = model.read_weights(model.layer(layer));
    const auto result = quantize(as_matrix(weights.values(), weights.shape), spec);
    return result.metrics.mse * static_cast<double>(weights.values().size());
}

HessianReport hessian_sensitivity(const Model& model, const LabelledData& data,
                                  const std::vector<QuantSpec>& specs, const HessianOptions& options,
                                  const Progress& progress, const CancelToken* cancel) {
    const nn::Network<double> network(nn::model_graph(model, data.x.cols()));
    check_fits(data, network.graph(), model.file().path());
    HessianReport report;
    report.samples = static_cast<std::size_t>(data.x.rows());
    report.specs = specs;
    report.loss = network.loss(data.x, data.y);
    const auto hvp = hessian_vector_products(network, data.x, data.y);
    const auto blocks = network.graph().blocks();
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        if (progress)
            progress(b, blocks.size(), blocks[b].layer);
        LayerHessian layer;
        layer.layer = blocks[b].layer;
        layer.parameters = blocks[b].size;
        layer.hutchinson =
            hutchinson_trace(hvp, network.parameter_count(), blocks[b], options.hutchinson, cancel);
        if (options.exact)
            layer.exact = exact_block_trace(hvp, network.parameter_count(), blocks[b], cancel);
        bool quantized =
            false;  // the layer has a weight the quantizer takes (a tied embedding's is the head's kernel)
        for (const auto& node : network.graph().nodes)
            if (node.layer == layer.layer && node.slot("kernel"))
                quantized = true;
        if (quantized)
            for (const auto& spec : specs)
                layer.omega.push_back(hawq_sensitivity(layer.hutchinson.trace, layer.parameters,
                                                       weight_squared_error(model, layer.layer, spec)));
        report.layers.push_back(std::move(layer));
    }
    if (progress)
        progress(blocks.size(), blocks.size(), "");
    return report;
}

}  // namespace quantlens

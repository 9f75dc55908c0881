#include "sensitivity/hessian_sensitivity.hpp"

#include <memory>

#include "nn/hf_graph.hpp"
#include "nn/streamed_hessian.hpp"
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
    const auto graph = nn::model_graph(model, data.x.cols(), false);
    check_fits(data, graph, model.file().path());
    const nn::StreamedHessian hessian(model, graph, data.x, data.y, cancel);
    HessianReport report;
    report.samples = static_cast<std::size_t>(data.x.rows());
    report.specs = specs;
    report.loss = hessian.loss();
    const auto blocks = graph.blocks();
    // progress: the joint samples (at most max_samples), then the layers
    const std::uint64_t joint_steps = options.hutchinson.joint
                                          ? static_cast<std::uint64_t>(options.hutchinson.max_samples)
                                          : 0,
                        steps = joint_steps + blocks.size();
    std::vector<TraceEstimate> joint;
    if (options.hutchinson.joint)  // every layer's samples from shared products over all parameters
        joint = hutchinson_joint(
            [&](int k) {
                if (progress)
                    progress(static_cast<std::uint64_t>(k), steps,
                             "joint Hutchinson sample " + std::to_string(k + 1));
                return hessian.joint(
                    options.hutchinson.seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(k), blocks,
                    cancel);
            },
            blocks.size(), options.hutchinson, cancel);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
        if (progress)
            progress(joint_steps + b, steps, blocks[b].layer);
        LayerHessian layer;
        layer.layer = blocks[b].layer;
        layer.parameters = blocks[b].size;
        const auto hvp = [&](const Eigen::VectorXd& v) {
            return hessian(blocks[b], v, cancel);
        };
        layer.hutchinson =
            joint.empty() ? hutchinson_trace(hvp, blocks[b], options.hutchinson, cancel) : joint[b];
        if (options.exact)
            layer.exact = exact_block_trace(hvp, blocks[b], cancel);
        bool quantized =
            false;  // the layer has a weight the quantizer takes (a tied embedding's is the head's kernel)
        for (const auto& node : graph.nodes)
            if (node.layer == layer.layer && node.slot("kernel"))
                quantized = true;
        if (quantized)
            for (const auto& spec : specs)
                layer.omega.push_back(hawq_sensitivity(layer.hutchinson.trace, layer.parameters,
                                                       weight_squared_error(model, layer.layer, spec)));
        report.layers.push_back(std::move(layer));
    }
    if (progress)
        progress(steps, steps, "");
    return report;
}

}  // namespace quantlens

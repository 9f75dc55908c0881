#include "sensitivity/sensitivity_import.hpp"

#include <map>

#include "io/json_limits.hpp"
#include "model/model_identity.hpp"
#include "quant/comparison.hpp"
#include "util/error.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace {

constexpr std::size_t kMaxReportBytes = std::size_t{256} << 20;  // a 70B model's report is a few MB

std::string at(std::size_t index, const char* field) {
    return "layers[" + std::to_string(index) + "]." + field;
}

}  // namespace

SensitivityReport import_sensitivity_report(const Model& model, const std::string& path) {
    const auto text = read_small_file(path, kMaxReportBytes);
    auto report = sensitivity_from_json(parse_untrusted_json(text, path, "sensitivity report"), path);
    if (report.layers.empty())
        throw Error(path, "layers", "is empty: the report describes no layer");
    if (!report.model_identity.empty()) {
        const auto identity = hex64(model_identity(model.file().path()).content);
        if (identity != report.model_identity)
            throw Error(path, "model_identity",
                        "the report was made for " + report.model + " (" + report.model_identity +
                            "), not for " + model.file().path() + " (" + identity + ")");
    }
    std::map<std::string, std::uint64_t> sizes;  // the model's weight layers and their weight sizes
    for (const auto* layer : quantizable_layers(model))
        sizes[layer->name] = static_cast<std::uint64_t>(model.file().tensor(layer->weight).elements());
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < report.layers.size(); ++i) {
        const auto& layer = report.layers[i];
        const auto found = sizes.find(layer.layer);
        if (found == sizes.end())
            throw Error(path, at(i, "layer"),
                        "\"" + layer.layer + "\" is not a weight layer of " + model.file().path() +
                            ": the report was made for another model");
        if (layer.weights != found->second)
            throw Error(path, at(i, "weights"),
                        std::to_string(layer.weights) + " weights, where " + model.file().path() + "'s \"" +
                            layer.layer + "\" holds " + std::to_string(found->second) +
                            ": the report was made for another model");
        if (!seen.emplace(layer.layer, i).second)
            throw Error(path, at(i, "layer"), "\"" + layer.layer + "\" is listed twice");
        const auto specs = report.specs.size();
        if (layer.hessian && !layer.hessian->omega.empty() && layer.hessian->omega.size() != specs)
            throw Error(path, at(i, "hessian.omega"), "must hold one value per spec");
        if (layer.damage)
            for (const auto* values : {&layer.damage->proxy_damage, &layer.damage->weight_mse,
                                       &layer.damage->delta_loss, &layer.damage->kl, &layer.damage->fisher})
                if (!values->empty() && values->size() != specs)
                    throw Error(path, at(i, "damage"), "per-spec figures must hold one value per spec");
    }
    report.agreement = agreement_of(report);  // from the figures, not from the file's word
    report.from_cache = false;
    return report;
}

AllocationEvidence evidence_of(const SensitivityReport& report) {
    AllocationEvidence evidence;
    for (const auto& layer : report.layers) {
        if (layer.hessian)
            evidence.hessian_traces[layer.layer] = {layer.hessian->hutchinson.trace,
                                                    layer.hessian->parameters};
        if (layer.lrp)
            evidence.lrp_contributions[layer.layer] = layer.lrp->contribution;
        if (!layer.damage)
            continue;
        for (std::size_t s = 0; s < report.specs.size(); ++s) {
            const auto spec = report.specs[s].to_string();
            if (s < layer.damage->delta_loss.size())
                evidence.measured_damage[layer.layer][spec] = layer.damage->delta_loss[s];
            if (s < layer.damage->fisher.size())
                evidence.fisher_damage[layer.layer][spec] = layer.damage->fisher[s];
        }
    }
    return evidence;
}

}  // namespace quantlens

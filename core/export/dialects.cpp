#include "export/dialects.hpp"

#include <map>
#include <tuple>

namespace quantlens {

namespace {

// GPTQModel names modules as PyTorch does; a weight not named <module>.weight keeps its layer's name.
std::string module_name(const Layer& layer) {
    const auto module = module_of(layer);
    return module.empty() ? layer.name : module;
}

struct GptqScheme {
    int bits = 4;
    std::int64_t group_size = -1;  // -1: per output channel, as GPTQ writes it
    bool sym = true, desc_act = false;
    auto key() const { return std::tuple(bits, group_size, sym, desc_act); }
};

}  // namespace

std::string python_exact_pattern(const std::string& name) {
    std::string pattern;
    for (char c : name) {
        if (std::string_view("\\.^$*+?{}[]|()-#&~ \t").find(c) != std::string_view::npos)
            pattern += '\\';
        pattern += c;
    }
    return pattern + "$";
}

void check_gptqmodel_source(const Model& model, const std::string& out_path) {
    const auto format = model.file().format();
    if (format != "safetensors" && format != "safetensors (sharded)" && format != "huggingface folder")
        throw Error(out_path, "GPTQModel",
                    "configures Hugging Face models by module name; " + model.file().path() + " is " +
                        std::string(format));
}

nlohmann::ordered_json gptqmodel_quantize_config(const Model& model,
                                                 const std::vector<LayerAssignment>& assignments,
                                                 const std::string& out_path) {
    check_gptqmodel_source(model, out_path);
    ExportChecks checks;
    std::map<std::string, GptqScheme> planned;  // module → scheme
    std::map<std::tuple<int, std::int64_t, bool, bool>, std::size_t> counts;
    for (const auto& [layer, spec] : assignments) {
        if (spec.is_cast())
            continue;  // kept in full precision: a negative match below
        if (layer->kind != LayerKind::Linear) {
            checks.fail(layer->name,
                        "is not a Linear layer (" + std::string(layer_kind_name(layer->kind)) +
                            "); GPTQModel quantizes Linear modules only (give it f16 to keep it)");
            continue;
        }
        if (spec.format != QuantFormat::Int ||
            (spec.bits != 2 && spec.bits != 3 && spec.bits != 4 && spec.bits != 8)) {
            checks.fail(layer->name, spec.to_string() + " is not a GPTQ scheme (int2, int3, int4 or int8)");
            continue;
        }
        if (spec.granularity != Granularity::Channel && spec.granularity != Granularity::Group) {
            checks.fail(layer->name,
                        spec.to_string() + " has per-tensor scales; GPTQ scales per channel or per group");
            continue;
        }
        GptqScheme scheme{spec.bits, spec.granularity == Granularity::Group ? spec.group_size : -1,
                          spec.symmetric, spec.act_order};
        const auto cols =
            normalised_shape(model.file().tensor(layer->weight).shape, layer->orientation).back();
        if (scheme.group_size > 0 && cols % scheme.group_size != 0) {
            checks.fail(layer->name, "group size " + std::to_string(scheme.group_size) +
                                         " does not divide its " + std::to_string(cols) + " input columns");
            continue;
        }
        planned[module_name(*layer)] = scheme;
        ++counts[scheme.key()];
    }
    checks.throw_if_failed(out_path, "GPTQModel");
    if (planned.empty())
        throw Error(out_path, "GPTQModel", "the plan quantizes no Linear layer");

    // The base config is the most common scheme, so `dynamic` lists only the exceptions.
    auto base_key = counts.begin()->first;
    for (const auto& [key, count] : counts)
        if (count > counts[base_key])
            base_key = key;
    const auto [bits, group_size, sym, desc_act] = base_key;
    nlohmann::ordered_json dynamic = nlohmann::ordered_json::object();
    bool lm_head = false;
    for (const auto& layer : model.layers()) {
        if (layer.kind != LayerKind::Linear)
            continue;
        const auto module = module_name(layer);
        const auto found = planned.find(module);
        if (found == planned.end()) {
            dynamic["-:" + python_exact_pattern(module)] = nlohmann::ordered_json::object();
            continue;
        }
        if (module == "lm_head")
            lm_head = true;
        const auto& scheme = found->second;
        if (scheme.key() == base_key)
            continue;
        nlohmann::ordered_json overrides = nlohmann::ordered_json::object();
        if (scheme.bits != bits)
            overrides["bits"] = scheme.bits;
        if (scheme.group_size != group_size)
            overrides["group_size"] = scheme.group_size;
        if (scheme.sym != sym)
            overrides["sym"] = scheme.sym;
        if (scheme.desc_act != desc_act)
            overrides["desc_act"] = scheme.desc_act;
        dynamic["+:" + python_exact_pattern(module)] = overrides;
    }
    return {{"bits", bits},
            {"group_size", group_size},
            {"desc_act", desc_act},
            {"sym", sym},
            {"lm_head", lm_head},
            {"quant_method", "gptq"},
            {"checkpoint_format", "gptq"},
            {"dynamic", dynamic},
            {"meta", {{"quantizer", {"quantlens"}}}}};
}

void check_aimet_encodings(const std::vector<LayerAssignment>& assignments, const std::string& out_path) {
    ExportChecks checks;
    for (const auto& [layer, spec] : assignments) {
        if (spec.is_cast())
            continue;
        if (const auto why = needs_calibration(spec); !why.empty())
            checks.fail(layer->name, why);
        else if (spec.format != QuantFormat::Int)
            checks.fail(
                layer->name,
                spec.to_string() + " is not an integer grid; AIMET encodings describe scale/offset integers");
        else if (spec.granularity != Granularity::Tensor && spec.granularity != Granularity::Channel)
            checks.fail(layer->name, spec.to_string() +
                                         " has group scales; AIMET's 0.6.1 encodings hold one per tensor or "
                                         "per output channel (use :channel)");
        else if (spec.scale_storage != ScaleStorage::F32)
            checks.fail(
                layer->name,
                spec.to_string() + " stores scales below f32; AIMET's scales are float32 (drop scale=)");
    }
    checks.throw_if_failed(out_path, "AIMET encodings");
}

nlohmann::ordered_json aimet_encodings(const Model& model, const std::vector<LayerAssignment>& assignments,
                                       const std::string& out_path, const Progress& progress,
                                       const CancelToken* cancel) {
    check_aimet_encodings(assignments, out_path);

    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    std::size_t done = 0;
    PlannedLayerQuantizer quantizer;
    for (const auto& [layer, spec] : assignments) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (progress)
            progress(done++, assignments.size(), layer->name);
        if (spec.is_cast())
            continue;
        const auto& result = quantizer.quantize(model, *layer, spec, cancel);
        const std::int64_t levels = (std::int64_t{1} << spec.bits) - 1;
        nlohmann::ordered_json entries = nlohmann::ordered_json::array();
        for (std::size_t g = 0; g < result.scales.size(); ++g) {
            // Unsigned codes 0 … 2^b−1 with x = (q + offset)·scale: a symmetric grid sits at
            // offset −2^(b−1) (its −2^(b−1) level goes unused when the range is restricted).
            const std::int64_t offset = spec.symmetric ? -(std::int64_t{1} << (spec.bits - 1))
                                                       : -static_cast<std::int64_t>(result.zero_points[g]);
            const double scale = result.scales[g];
            entries.push_back({{"bitwidth", spec.bits},
                               {"dtype", "int"},
                               {"is_symmetric", spec.symmetric ? "True" : "False"},
                               {"max", static_cast<double>(levels + offset) * scale},
                               {"min", static_cast<double>(offset) * scale},
                               {"offset", offset},
                               {"scale", scale}});
        }
        params[layer->weight] = entries;
    }
    if (progress)
        progress(assignments.size(), assignments.size(), "");
    return {{"version", "0.6.1"},
            {"activation_encodings", nlohmann::ordered_json::object()},
            {"param_encodings", params},
            {"excluded_layers", nlohmann::ordered_json::array()}};
}

}  // namespace quantlens

#include "export/export_refusals.hpp"

#include "export/compressed_tensors.hpp"
#include "export/dialects.hpp"
#include "export/export_plan.hpp"
#include "export/fakequant_export.hpp"
#include "export/gguf_export.hpp"
#include "export/llama_quantize_types.hpp"
#include "export/onnx_export.hpp"

namespace quantlens {

namespace {

// The checks `format`'s export runs on a plan before writing (nothing is written here).
void run_checks(const Model& model, std::string_view format,
                const std::vector<LayerAssignment>& assignments) {
    if (format == "gguf")
        check_gguf_export(model, assignments, "");
    else if (format == "fakequant")
        check_fakequant_export(model, assignments, "");
    else if (format == "safetensors-packed" || format == "compressed-tensors")
        compressed_tensors_config(model, assignments, "");
    else if (format == "gptqmodel") {
        check_gptqmodel_source(model, "");
        if (!assignments.empty())
            gptqmodel_quantize_config(model, assignments, "");
    } else if (format == "aimet")
        check_aimet_encodings(assignments, "");
    else if (format == "llama-tensor-types")
        llama_quantize_tensor_types(model, assignments);
    else if (is_onnx_export(format))
        check_onnx_export(model, assignments, format, "");
}

}  // namespace

std::string export_source_refusal(const Model& model, std::string_view format) {
    require_export_format(format, "");
    try {
        run_checks(model, format, {});
    } catch (const Error& error) {
        return error.reason();
    }
    return "";
}

SpecRefusals export_refusals(const Model& model, std::string_view format,
                             const std::vector<const Layer*>& layers, const std::vector<QuantSpec>& specs) {
    SpecRefusals refused;
    for (const auto& spec : specs) {
        std::vector<LayerAssignment> assignments;
        for (const auto* layer : layers)
            assignments.push_back({layer, spec});
        try {
            run_checks(model, format, assignments);
        } catch (const ExportRefused& refusal) {
            for (const auto& [layer, reason] : refusal.refusals())
                refused[layer][spec.to_string()] = reason;
        } catch (const Error&) {
            // A whole-plan or whole-model check (export_source_refusal says the latter): not a filter.
        }
    }
    return refused;
}

}  // namespace quantlens

#include "export/export_plan.hpp"

#include <algorithm>
#include <filesystem>

#include "export/compressed_tensors.hpp"
#include "export/dialects.hpp"
#include "export/fakequant_export.hpp"
#include "export/gguf_export.hpp"
#include "export/llama_quantize_types.hpp"
#include "export/onnx_export.hpp"
#include "io/output_marker.hpp"
#include "util/atomic_file.hpp"

namespace quantlens {

const std::vector<std::string>& export_formats() {
    static const std::vector<std::string> kFormats = {"gguf",
                                                      "fakequant",
                                                      "safetensors-packed",
                                                      "onnx-qdq",
                                                      "onnx-matmulnbits",
                                                      "gptqmodel",
                                                      "compressed-tensors",
                                                      "aimet",
                                                      "llama-tensor-types"};
    return kFormats;
}

bool is_dialect(std::string_view format) {
    return format == "gptqmodel" || format == "compressed-tensors" || format == "aimet" ||
           format == "llama-tensor-types";
}

bool writes_folder(const Model& model, std::string_view format) {
    return format == "safetensors-packed" || (format == "fakequant" && !model_folder(model.file()).empty());
}

void require_export_format(std::string_view format, const std::string& file) {
    if (std::find(export_formats().begin(), export_formats().end(), format) == export_formats().end())
        throw Error(file, "format \"" + std::string(format) + "\"",
                    "expected gguf, fakequant, safetensors-packed, onnx-qdq, onnx-matmulnbits, gptqmodel, "
                    "compressed-tensors, aimet or llama-tensor-types");
}

ExportOutcome export_plan(const Model& model, const QuantPlan& plan, const std::string& plan_file,
                          std::string_view format, const std::string& out_path, const Progress& progress,
                          const CancelToken* cancel, bool replace_existing) {
    require_export_format(format, out_path);
    const auto shape = writes_folder(model, format) ? OutputShape::Folder : OutputShape::File;
    std::vector<std::string> inputs = {model_input(model.file()), plan_file};
    if (const auto* importance = model.importance_matrix())
        inputs.push_back(importance->path);
    guard_output({out_path, shape, inputs, replace_existing});
    // The plan travels with the weights: inside a folder, beside a file (a second output).
    namespace fs = std::filesystem;
    const auto plan_path = shape == OutputShape::Folder
                               ? (fs::path(out_path) / "quantlens.plan.json").string()
                               : out_path + ".plan.json";
    if (!is_dialect(format) && shape == OutputShape::File)
        guard_output({plan_path, OutputShape::File, inputs, replace_existing});
    const auto assignments = resolve_plan(plan, model, plan_file);
    ExportOutcome outcome;
    if (is_dialect(format)) {
        std::string text;
        if (format == "gptqmodel")
            text = gptqmodel_quantize_config(model, assignments, out_path).dump(2) + "\n";
        if (format == "compressed-tensors")
            text = compressed_tensors_config(model, assignments, out_path).dump(2) + "\n";
        if (format == "aimet")
            text = aimet_encodings(model, assignments, out_path, progress, cancel).dump(2) + "\n";
        if (format == "llama-tensor-types")
            text = llama_quantize_tensor_types(model, assignments);
        AtomicFile out(out_path);
        out.write(text.data(), text.size());
        out.commit();
        outcome.summary.quantized = assignments.size();
        outcome.summary.written.push_back(out_path);
        return outcome;
    }
    if (format == "gguf")
        outcome.summary = export_gguf(model, assignments, out_path, progress, cancel);
    else if (format == "fakequant")
        outcome.summary = export_fakequant(model, assignments, out_path, progress, cancel);
    else if (format == "safetensors-packed")
        outcome.summary = export_packed_safetensors(model, assignments, out_path, progress, cancel);
    else if (is_onnx_export(format))
        outcome.summary = export_onnx(model, assignments, format, out_path, progress, cancel);
    outcome.plan_path = plan_path;
    save_plan(plan, outcome.plan_path);
    return outcome;
}

}  // namespace quantlens

#pragma once
// One entry for every export target, so `quantlens-cli export` and the GUI's export dialog call
// the same function with the same arguments: the weight formats write files or folders (and the
// plan beside them), the dialects write one text file.
#include <string>
#include <string_view>
#include <vector>

#include "export/export_common.hpp"

namespace quantlens {

// "gguf", "fakequant", "safetensors-packed", "gptqmodel", "compressed-tensors", "aimet",
// "llama-tensor-types".
const std::vector<std::string>& export_formats();
bool is_dialect(std::string_view format);
// Error naming `file` and the format when `format` is not one of export_formats(), listing them.
void require_export_format(std::string_view format, const std::string& file);

struct ExportOutcome {
    ExportSummary summary;  // weight formats
    std::string plan_path;  // where the plan was saved beside the weights (weight formats)
};

// Whether `format` writes a folder for this model (safetensors-packed; fakequant of a folder model).
bool writes_folder(const Model& model, std::string_view format);

// Error naming the format when it is not one of export_formats(). Before any work the output is
// checked (util/output_guard.hpp): never an input (the model, the plan file), and an existing
// output is replaced only with `replace_existing` (--force) when QuantLens wrote it.
ExportOutcome export_plan(const Model& model, const QuantPlan& plan, const std::string& plan_file,
                          std::string_view format, const std::string& out_path, const Progress& progress = {},
                          const CancelToken* cancel = nullptr, bool replace_existing = false);

}  // namespace quantlens

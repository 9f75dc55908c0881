#pragma once
// Export to GGUF with per-tensor ggml types from a plan (mixed precision), streamed one tensor
// at a time. From a GGUF source every metadata key (tokenizer included) is carried over byte for
// byte and every tensor the plan does not name is copied as it is, so llama.cpp loads the result
// as it loaded the source. The blocks come from the same quantizers as the previews, which
// reproduce llama.cpp's reference quantizers byte for byte.
//
// Checks before any byte is written, each failing layer listed with what to change: the plan's
// specs must be ggml types (ggml_type_names_text()), a quantized row
// length must be a whole number of blocks, and the output must not be the input. Writing is
// atomic: a failure or a cancel leaves no output and no temporary file.
#include <map>
#include <span>
#include <string>
#include <vector>

#include "export/export_common.hpp"

namespace quantlens {

ExportSummary export_gguf(const Model& model, const std::vector<LayerAssignment>& assignments,
                          const std::string& out_path, const Progress& progress = {},
                          const CancelToken* cancel = nullptr);

// A planned weight tensor: its ggml type and the importance its rows are quantized with (the
// model's attached importance matrix; empty: none).
struct PlannedGgmlTensor {
    DType type;
    std::span<const float> importance;
};

// Each planned weight tensor, after checking every layer (a ggml type, whole blocks, decodable
// weights, an importance entry of the right length); Error listing each failing layer with what
// to change. Shared by both GGUF exports.
std::map<std::string, PlannedGgmlTensor> planned_ggml_types(const Model& model,
                                                            const std::vector<LayerAssignment>& assignments,
                                                            const std::string& out_path);

// Every check export_gguf makes before writing (the source model, then planned_ggml_types):
// Error for the model, ExportRefused listing the layers.
void check_gguf_export(const Model& model, const std::vector<LayerAssignment>& assignments,
                       const std::string& out_path);

// The ggml type a spec stands for (its canonical text is a bare ggml type name), if any.
std::optional<DType> ggml_dtype_of(const QuantSpec& spec);
// "q8_0, q4_0, …, f32": the specs ggml_dtype_of knows, for messages.
const std::string& ggml_type_names_text();

}  // namespace quantlens

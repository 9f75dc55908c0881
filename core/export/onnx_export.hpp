#pragma once
// ONNX export of a plan (docs/formats.md §14): the source ONNX model rewritten with each planned
// weight stored quantized, everything else kept as it was.
//   onnx-qdq           the weight's codes, scales and zero points as initializers behind a
//                      DequantizeLinear whose output keeps the weight's name (the graph's nodes
//                      are untouched): int2–int8 per-tensor or per-channel as INT8/UINT8
//                      (opset 13), in groups along the input axis as INT4/UINT4 or INT8/UINT8
//                      blocks (opset 21).
//   onnx-matmulnbits   each MatMul on a planned [K, N] weight becomes onnxruntime's com.microsoft
//                      MatMulNBits (2, 4 or 8 bits, groups of a power of two ≥ 16 along K).
// An f32 spec keeps the weight as it is. A model below the opset a form needs is raised with
// ONNX's version converter (libonnx) and the summary says so; the result is checked with ONNX's
// checker and strict shape inference (opset ≤ 17, what Debian's libonnx 1.12 knows) before it
// is written. Weights a form cannot hold are refused by name before anything is written; the
// write is atomic and never touches the input.
#include <string>
#include <string_view>
#include <vector>

#include "export/export_common.hpp"

namespace quantlens {

bool is_onnx_export(std::string_view format);  // "onnx-qdq", "onnx-matmulnbits"

// Every check export_onnx makes before writing: Error for the model's format, ExportRefused
// listing the layers.
void check_onnx_export(const Model& model, const std::vector<LayerAssignment>& assignments,
                       std::string_view format, const std::string& out_path);
ExportSummary export_onnx(const Model& model, const std::vector<LayerAssignment>& assignments,
                          std::string_view format, const std::string& out_path, const Progress& progress = {},
                          const CancelToken* cancel = nullptr);

}  // namespace quantlens

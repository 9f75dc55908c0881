#pragma once
// Fake-quant export: every planned layer's weight replaced by its dequantized values (exactly
// the preview's), written in the source's own format and dtype, so the model can be evaluated
// unchanged in the user's framework. Everything else is carried over: other tensors byte for
// byte, safetensors metadata and the folder's other files (config.json, tokenizer), GGUF
// metadata, HDF5 groups and attributes (Keras model_config).
//
// Formats: safetensors (a file, a sharded index or a Hugging Face folder → a folder of the same
// shards), GGUF, HDF5 and Keras .h5. Dtypes: a float weight keeps its dtype (F16/BF16 round the
// dequantized values once more, to nearest even); a GGUF block-quantized weight is written as
// F32, the one ggml type that holds every dequantized value. Checks run before writing;
// writing is atomic (file or folder), cancel-safe, and never touches the input.
#include <string>
#include <vector>

#include "export/export_common.hpp"

namespace quantlens {

// Every check export_fakequant makes before writing: Error for the model's format, ExportRefused
// listing the layers.
void check_fakequant_export(const Model& model, const std::vector<LayerAssignment>& assignments,
                            const std::string& out_path);
ExportSummary export_fakequant(const Model& model, const std::vector<LayerAssignment>& assignments,
                               const std::string& out_path, const Progress& progress = {},
                               const CancelToken* cancel = nullptr);

}  // namespace quantlens

#pragma once
// The per-layer, per-tensor inventory behind `quantlens-cli inspect` and the GUI's first
// table: names, kinds, dtypes, shapes, sizes and (optionally) value summaries.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "stats/summary.hpp"
#include "tensor/stored_quantization.hpp"
#include "util/progress.hpp"

namespace quantlens {

struct TensorRow {
    std::string name;
    std::string role;  // weight, bias, other
    DType dtype;
    std::string stored_type;          // stored_type_name: "Q4_K", or "ggml type 99 (unknown)"
    std::vector<std::int64_t> shape;  // as stored
    std::uint64_t parameters = 0, bytes = 0;
    std::optional<Summary> summary;
    std::string error;  // why the summary is missing (e.g. an undecodable ggml type)
    // How the file stores the tensor when it is a stored quantization (codes, scales, zero points
    // of their own): `bytes` then counts all of them and the statistics are of the dequantized values.
    std::shared_ptr<const StoredQuantization> quantization;
};

struct LayerRow {
    std::string name, op;
    LayerKind kind;
    Orientation orientation;
    std::vector<std::int64_t> shape;  // weight, output channels first
    std::uint64_t parameters = 0, bytes = 0;
    std::vector<TensorRow> tensors;
};

struct Inspection {
    std::string path, format, architecture;
    std::vector<LayerRow> layers;
    std::uint64_t tensors = 0, parameters = 0, bytes = 0;
    nlohmann::json metadata;
    // What the file holds but could not be read (ModelFile::left_out), and its parameter count.
    std::vector<ModelFile::LeftOut> left_out;
    std::uint64_t left_out_parameters = 0;
};

// The parameters of the tensors a file could not read (ModelFile::left_out).
std::uint64_t left_out_parameters(const std::vector<ModelFile::LeftOut>& left_out);
// "3 tensors (178697 parameters) left out, unreadable: …" with the first reasons, or empty when
// nothing is: inspect's table, every CLI command's warning and the status bar's tooltip.
std::string left_out_summary(const std::vector<ModelFile::LeftOut>& left_out);

Inspection inspect_model(const Model& model, bool with_stats, const Progress& progress = {},
                         const CancelToken* cancel = nullptr);

inline constexpr const char* kInspectSchema = "quantlens.inspect/1";  // docs/inspect-json.md
nlohmann::ordered_json to_json(const Inspection& inspection);
// A stored quantization as inspect's JSON gives it (docs/inspect-json.md).
nlohmann::ordered_json to_json(const StoredQuantization& quantization);
// One line: "MatMulNBits, 4-bit unsigned, blocks of 32 (axis 1): codes X U8 [3, 2, 16], ...".
std::string describe(const StoredQuantization& quantization);
std::string to_table(const Inspection& inspection);

}  // namespace quantlens

#pragma once
// What every exporter shares: the summary it returns, the refusal to overwrite the input,
// checks collected per layer before any byte is written, quantizing a planned layer the way
// the preview does, turning its values back into the file's stored layout, and writing a
// folder atomically.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "alloc/plan.hpp"
#include "quant/quantizer.hpp"
#include "util/progress.hpp"

namespace quantlens {

struct ExportSummary {
    std::size_t tensors = 0, quantized = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0;
    std::vector<std::string> written;   // files, in the order they were committed
    std::vector<std::string> warnings;  // what the output lacks, said to the user
};

// The module a weight tensor belongs to, as PyTorch names it ("model.layers.0.mlp.up_proj" for
// "….up_proj.weight"); empty when the tensor is not named <module>.weight.
std::string module_of(const Layer& layer);

// What a model was read from: its folder for a folder model (HF folder, sharded index), else
// its file. Outputs never touch it (util/output_guard.hpp).
std::string model_input(const ModelFile& source);

// Error when `out_path` is the model's file, or its folder, or inside its folder for a
// folder model, or holds it (the input is never overwritten).
void refuse_to_overwrite_input(const ModelFile& source, const std::string& out_path);

struct LayerRefusal {
    std::string layer, reason;
};

// What an exporter refused before writing: thrown with every failing layer, so the user fixes
// all of them at once, and so export/export_refusals can tell which layer refused which spec.
class ExportRefused : public Error {
public:
    ExportRefused(const std::string& out_path, const std::string& target, std::vector<LayerRefusal> refusals);
    const std::vector<LayerRefusal>& refusals() const { return refusals_; }

private:
    std::vector<LayerRefusal> refusals_;
};

// Problems found before writing, one per layer, thrown together as ExportRefused:
// "the plan cannot be exported:\n  layer: reason (what to change)".
class ExportChecks {
public:
    void fail(const std::string& layer, const std::string& reason) { refusals_.push_back({layer, reason}); }
    void throw_if_failed(const std::string& out_path, const std::string& target) const;

private:
    std::vector<LayerRefusal> refusals_;
};

// Why `spec` cannot be applied by an exporter without calibration inputs (empty when it can).
std::string needs_calibration(const QuantSpec& spec);

// Quantizes planned layers one after another exactly as the preview does (the same quantize()
// on the same output-channels-first matrix), with codes for packing. The decoded weights and
// the result keep their storage from layer to layer: an export streams through a model with
// no page faults after the first layer, and drops the source's mapped pages once decoded.
class PlannedLayerQuantizer {
public:
    const QuantResult& quantize(const Model& model, const Layer& layer, const QuantSpec& spec,
                                const CancelToken* cancel);

private:
    std::vector<float> values_;
    QuantResult result_;
};

// Float values encoded as `type`: float and integer dtypes by cast, ggml block types by the
// quantizer module (llama-quantize's bytes), in rows of n_per_row values (0: one row) with the
// rows' per-column importance (empty: none). `out` keeps its storage between calls.
void encode_values(DType type, std::span<const float> values, std::vector<std::byte>& out,
                   std::size_t n_per_row = 0, std::span<const float> importance = {});

// A folder written as a whole: files go to a temporary sibling folder, and commit() moves it
// into place (an existing folder of that name is moved aside first and removed after), so a
// partial folder never stands under the target's name. Destroyed uncommitted, it leaves nothing.
class AtomicDirectory {
public:
    explicit AtomicDirectory(std::string target);
    ~AtomicDirectory();
    AtomicDirectory(const AtomicDirectory&) = delete;
    AtomicDirectory& operator=(const AtomicDirectory&) = delete;

    std::string file(const std::string& name) const;  // path inside the temporary folder
    void commit();

private:
    std::string target_, temp_;
    bool committed_ = false;
};

// Copies the side files of a model folder (config, tokenizer, …) into `directory`: the regular
// files directly inside `folder` that `keep` accepts. Symbolic links, FIFOs and devices are
// never followed or copied (a link could pull any file on the machine into the export); each
// one left out is named in `warnings`.
void copy_side_files(const std::string& folder, const AtomicDirectory& directory,
                     const std::function<bool(const std::string& name)>& keep,
                     std::vector<std::string>& warnings);

// The safetensors files of a safetensors-family model (one file, a sharded index, a Hugging
// Face folder) with their tensors in header order, so exports keep the shard layout.
struct SafetensorsShard {
    std::string file_name;
    std::vector<std::string> tensors;
    std::map<std::string, std::string> metadata;  // the shard's __metadata__
};
std::vector<SafetensorsShard> safetensors_shards(const ModelFile& source);
bool is_safetensors_family(const ModelFile& source);
// The folder of a folder model (HF folder, sharded index), empty for a single file.
std::string model_folder(const ModelFile& source);

}  // namespace quantlens

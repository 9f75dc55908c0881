#include "export/fakequant_export.hpp"

#include <filesystem>
#include <map>

#include "io/gguf.hpp"
#include "io/output_marker.hpp"
#include "io/hdf5.hpp"
#include "io/safetensors.hpp"
#include "tensor/ggml_blocks.hpp"
#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

bool is_float(DType type) {
    return type == DType::F32 || type == DType::F64 || type == DType::F16 || type == DType::BF16;
}

// The dtype a planned weight is written in, given how the source stores it.
DType fakequant_dtype(const ModelFile& source, DType stored) {
    if (is_float(stored))
        return stored;
    return source.format() == "gguf" ? DType::F32 : stored;
}

struct PlannedWeight {
    const Layer* layer;
    QuantSpec spec;
};

}  // namespace

void check_fakequant_export(const Model& model, const std::vector<LayerAssignment>& assignments,
                            const std::string& out_path) {
    const auto& file = model.file();
    if (!is_safetensors_family(file) && file.format() != "gguf" && file.format() != "hdf5" &&
        file.format() != "keras-h5")
        throw Error(out_path, "fake-quant export",
                    "writes safetensors, GGUF and HDF5/Keras models; " + file.path() + " is " +
                        std::string(file.format()) +
                        " (export it with --format gguf or safetensors-packed, or convert the model first)");
    ExportChecks checks;
    for (const auto& [layer, spec] : assignments) {
        const auto& info = file.tensor(layer->weight);
        if (const auto why = needs_calibration(spec); !why.empty())
            checks.fail(layer->name, why);
        else if (!is_float(fakequant_dtype(file, info.dtype)))
            checks.fail(layer->name,
                        "its weights are stored as " + std::string(dtype_name(info.dtype)) +
                            ", which cannot hold dequantized values (leave the layer out of the plan)");
    }
    checks.throw_if_failed(out_path, "fake-quant export");
}

namespace {

class FakeQuantExport {
public:
    FakeQuantExport(const Model& model, const std::vector<LayerAssignment>& assignments, std::string out,
                    const Progress& progress, const CancelToken* cancel)
        : model_(model), out_(std::move(out)), progress_(progress), cancel_(cancel) {
        const auto& file = model.file();
        check_fakequant_export(model, assignments, out_);
        refuse_to_overwrite_input(file, out_);
        for (const auto& [layer, spec] : assignments)
            planned_[layer->weight] = {layer, spec};
        for (const auto& info : file.tensors())
            summary_.bytes_in += info.byte_size;
    }

    ExportSummary run() {
        const auto format = model_.file().format();
        if (format == "gguf")
            write_gguf_model();
        else if (format == "hdf5" || format == "keras-h5")
            write_hdf5_model();
        else
            write_safetensors_model();
        if (progress_)
            progress_(summary_.bytes_in, summary_.bytes_in, "");
        return summary_;
    }

private:
    // The bytes of one tensor as written: planned weights dequantized and re-encoded.
    std::span<const std::byte> tensor_bytes(const TensorInfo& info, DType written, TensorBytes& keep) {
        if (cancel_)
            cancel_->throw_if_cancelled();
        if (progress_)
            progress_(done_, summary_.bytes_in, info.name);
        done_ += info.byte_size;
        ++summary_.tensors;
        const auto found = planned_.find(info.name);
        if (found == planned_.end()) {
            keep = model_.file().read(info);
            summary_.bytes_out += keep.bytes().size();
            return keep.bytes();
        }
        const auto& [layer, spec] = found->second;
        const auto& result = quantizer_.quantize(model_, *layer, spec, cancel_);
        const auto stored = to_stored_layout(result.dequantized, info.shape, layer->orientation);
        encode_values(written, stored, encoded_);
        ++summary_.quantized;
        summary_.bytes_out += encoded_.size();
        return encoded_;
    }

    void write_safetensors_model() {
        const auto& file = model_.file();
        const auto shards = safetensors_shards(file);
        const bool folder = !model_folder(file).empty();
        std::unique_ptr<AtomicDirectory> directory;
        if (folder) {
            directory = std::make_unique<AtomicDirectory>(out_);
            copy_side_files(
                model_folder(file), *directory,  // config.json, tokenizer, index, …
                [](const std::string& name) { return fs::path(name).extension() != ".safetensors"; },
                summary_.warnings);
        }
        for (const auto& shard : shards) {
            std::vector<TensorDeclaration> declared;
            for (const auto& name : shard.tensors) {
                const auto& info = file.tensor(name);
                declared.push_back({name,
                                    planned_.count(name) ? fakequant_dtype(file, info.dtype) : info.dtype,
                                    info.shape});
            }
            const auto path = folder ? directory->file(shard.file_name) : out_;
            SafetensorsStreamWriter writer(path, declared, with_writer_mark(shard.metadata));
            for (const auto& tensor : declared) {
                TensorBytes keep;
                writer.write_tensor(tensor_bytes(file.tensor(tensor.name), tensor.dtype, keep));
                keep.release_pages();
            }
            if (cancel_)
                cancel_->throw_if_cancelled();
            writer.commit();
        }
        if (folder)
            directory->commit();
        summary_.written.push_back(out_);
    }

    void write_gguf_model() {
        const auto& file = model_.file();
        const auto header = parse_gguf(MappedFile::open(file.path())->bytes(), file.path());
        std::vector<GgufTensorDeclaration> declared;
        for (const auto& entry : header.tensors)
            declared.push_back(
                {entry.info.name,
                 planned_.count(entry.info.name) ? fakequant_dtype(file, entry.info.dtype) : entry.info.dtype,
                 entry.info.shape});
        GgufStreamWriter writer(out_, with_writer_mark(header.metadata), declared);
        for (const auto& tensor : declared) {
            TensorBytes keep;
            writer.write_tensor(tensor_bytes(file.tensor(tensor.name), tensor.dtype, keep));
            keep.release_pages();
        }
        if (cancel_)
            cancel_->throw_if_cancelled();
        writer.commit();
        summary_.written.push_back(out_);
    }

    // A fresh file with the source's groups, attributes (Keras model_config, layer_names) and
    // dataset types, so Keras loads it as it loaded the source; no byte of the source is copied.
    void write_hdf5_model() {
        const auto& file = model_.file();
        write_hdf5_like(
            file, out_,
            [this](const TensorInfo& info, TensorBytes& keep) {
                return tensor_bytes(info, info.dtype, keep);
            },
            cancel_);
        summary_.written.push_back(out_);
    }

    const Model& model_;
    std::string out_;
    const Progress& progress_;
    const CancelToken* cancel_;
    std::map<std::string, PlannedWeight> planned_;  // by weight tensor name
    ExportSummary summary_;
    std::uint64_t done_ = 0;
    std::vector<std::byte> encoded_;  // reused from tensor to tensor
    PlannedLayerQuantizer quantizer_;
};

}  // namespace

ExportSummary export_fakequant(const Model& model, const std::vector<LayerAssignment>& assignments,
                               const std::string& out_path, const Progress& progress,
                               const CancelToken* cancel) {
    return FakeQuantExport(model, assignments, out_path, progress, cancel).run();
}

}  // namespace quantlens

#include "export/export_common.hpp"

#include <algorithm>
#include <filesystem>

#include "io/output_marker.hpp"
#include "io/safetensors.hpp"
#include "quant/ggml_quantizer.hpp"
#include "tensor/convert.hpp"
#include "util/atomic_file.hpp"
#include "util/mapped_file.hpp"
#include "util/paths.hpp"
#include "util/temporary_path.hpp"

namespace quantlens {

namespace fs = std::filesystem;

std::string module_of(const Layer& layer) {
    const std::string suffix = ".weight";
    const auto& w = layer.weight;
    return w.size() > suffix.size() && w.compare(w.size() - suffix.size(), suffix.size(), suffix) == 0
               ? w.substr(0, w.size() - suffix.size())
               : std::string();
}

bool is_safetensors_family(const ModelFile& source) {
    return source.format() == "safetensors" || source.format() == "safetensors (sharded)" ||
           source.format() == "huggingface folder";
}

std::string model_folder(const ModelFile& source) {
    if (source.format() == "huggingface folder")
        return source.path();
    if (source.format() == "safetensors (sharded)")
        return fs::path(source.path()).parent_path().string();
    return {};
}

std::string model_input(const ModelFile& source) {
    const auto folder = model_folder(source);
    return folder.empty() ? source.path() : folder;
}

void refuse_to_overwrite_input(const ModelFile& source, const std::string& out_path) {
    check_output_against_inputs({out_path, OutputShape::File, {model_input(source)}, false});
}

namespace {
std::string listed(const std::vector<LayerRefusal>& refusals) {
    std::string text = "the plan cannot be exported:";
    for (const auto& [layer, reason] : refusals)
        text += "\n  " + layer + ": " + reason;
    return text;
}
}  // namespace

ExportRefused::ExportRefused(const std::string& out_path, const std::string& target,
                             std::vector<LayerRefusal> refusals)
    : Error(out_path, target, listed(refusals)), refusals_(std::move(refusals)) {}

void ExportChecks::throw_if_failed(const std::string& out_path, const std::string& target) const {
    if (!refusals_.empty())
        throw ExportRefused(out_path, target, refusals_);
}

std::string needs_calibration(const QuantSpec& spec) {
    if (spec.rounding == Rounding::Gptq)
        return spec.to_string() +
               " rounds with GPTQ, which needs the layer's calibration inputs (export runs on weights alone; "
               "use round=rtn)";
    if (spec.smooth_alpha >= 0)
        return spec.to_string() +
               " smooths with activation statistics, which export does not have (drop smooth=)";
    if (spec.rotation != Rotation::None)
        return spec.to_string() +
               " rotates the weights; the rotation must be folded into the neighbouring layers, which this "
               "export does not do (drop rot=)";
    return {};
}

const QuantResult& PlannedLayerQuantizer::quantize(const Model& model, const Layer& layer,
                                                   const QuantSpec& spec, const CancelToken* cancel) {
    QuantOptions options;
    options.cancel = cancel;
    options.error_histogram = false;
    options.importance = model.importance(layer);
    const auto& info = model.file().tensor(layer.weight);
    if (layer.orientation == Orientation::OutFirst || info.shape.size() < 2) {
        const auto stored = model.file().read(info);
        values_.resize(static_cast<std::size_t>(info.elements()));
        decode_to_f32(info.dtype, stored.bytes(), values_);
        stored.release_pages();
        quantize_into(as_matrix(values_, normalised_shape(info.shape, layer.orientation)), spec, options,
                      result_);
    } else {
        const auto weights = model.read_weights(layer);  // reordered to output channels first
        quantize_into(as_matrix(weights.values(), weights.shape), spec, options, result_);
    }
    return result_;
}

void encode_values(DType type, std::span<const float> values, std::vector<std::byte>& out,
                   std::size_t n_per_row, std::span<const float> importance) {
    const auto bytes = storage_bytes(type, values.size());
    if (!bytes)
        throw Error("", std::string(dtype_name(type)),
                    std::to_string(values.size()) + " values are not whole blocks of this type");
    out.resize(*bytes);
    if (dtype_info(type).is_block)
        quantize_ggml_rows(type, values, n_per_row ? n_per_row : values.size(), importance,
                           {reinterpret_cast<std::uint8_t*>(out.data()), out.size()});
    else
        encode_from_f32(type, values, out);
}

AtomicDirectory::AtomicDirectory(std::string target) : target_(std::move(target)) {
    const fs::path path = named_path(target_);
    target_ = path.string();
    std::error_code error;
    if (fs::exists(fs::symlink_status(path, error)) && !fs::is_directory(fs::symlink_status(path, error)))
        throw Error(target_, "", "exists and is not a folder; this export writes a folder");
    const auto parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::is_directory(parent, error))
        throw Error(target_, "", "its parent folder " + parent.string() + " does not exist");
    remove_stale_temporaries(path);
    for (int attempt = 0; attempt < 16 && temp_.empty(); ++attempt) {
        const auto candidate = temporary_path(path);
        if (fs::create_directory(candidate, error))
            temp_ = candidate.string();
    }
    if (temp_.empty())
        throw Error(target_, "", "cannot create a temporary folder beside it: " + error.message());
}

AtomicDirectory::~AtomicDirectory() {
    std::error_code ignored;
    if (!committed_)
        fs::remove_all(temp_, ignored);  // the temporary is ours: made above
}

std::string AtomicDirectory::file(const std::string& name) const {
    return (fs::path(temp_) / name).string();
}

void AtomicDirectory::commit() {
    {
        AtomicFile marker(file(kFolderMarker));
        const std::string text = "written by " + writer_stamp() + "\n";
        marker.write(text.data(), text.size());
        marker.commit();
    }
    // An existing folder is replaced only when the output guard found QuantLens's mark on it
    // and the user asked (--force); it is checked again here, just before it goes.
    std::error_code error;
    std::string aside;
    const bool exists = fs::exists(fs::symlink_status(target_, error));
    if (exists) {
        if (!replacement_approved(target_) || !carries_quantlens_marker(target_))
            throw Error(target_, "",
                        "exists, and QuantLens was not allowed to replace it; it is left as it was");
        aside = temp_ + ".old";
        fs::rename(target_, aside, error);
        if (error)
            throw Error(target_, "", "cannot move the existing folder aside: " + error.message());
    }
    if (const int failure = rename_path(temp_, target_, false); failure != 0) {
        std::error_code ignored;
        if (!aside.empty())
            fs::rename(aside, target_, ignored);
        throw Error(
            target_, "",
            "cannot move the finished folder into place: " + std::generic_category().message(failure));
    }
    committed_ = true;
    if (!aside.empty())
        fs::remove_all(aside, error);  // an earlier QuantLens output, marked as such
}

void copy_side_files(const std::string& folder, const AtomicDirectory& directory,
                     const std::function<bool(const std::string& name)>& keep,
                     std::vector<std::string>& warnings) {
    std::vector<fs::path> regular;
    std::error_code error;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
        const auto name = it->path().filename().string();
        if (!keep(name))
            continue;
        const auto status = it->symlink_status(error);
        if (fs::is_regular_file(status))
            regular.push_back(it->path());
        else if (!fs::is_directory(status))
            warnings.push_back(name + " was not copied: it is " +
                               (fs::is_symlink(status) ? "a symbolic link" : "not a regular file") +
                               ", and exports copy only regular files of the model's folder");
    }
    if (error)
        throw Error(folder, "", "cannot list the model's folder: " + error.message());
    for (const auto& path : regular)
        fs::copy_file(path, directory.file(path.filename().string()));
}

std::vector<SafetensorsShard> safetensors_shards(const ModelFile& source) {
    std::vector<fs::path> files;
    if (source.format() == "safetensors") {
        files.push_back(source.path());
    } else {
        const fs::path folder = model_folder(source);
        const fs::path index = source.format() == "safetensors (sharded)"
                                   ? fs::path(source.path())
                                   : folder / "model.safetensors.index.json";
        if (fs::exists(index)) {
            std::vector<std::string> names;
            for (const auto& [tensor, shard] :
                 parse_safetensors_index(read_small_text(index.string(), 64 << 20), index.string()))
                names.push_back(shard);
            std::sort(names.begin(), names.end());
            names.erase(std::unique(names.begin(), names.end()), names.end());
            for (const auto& name : names)
                files.push_back(folder / name);
        } else {
            for (const auto& entry : fs::directory_iterator(folder))
                if (entry.is_regular_file() && entry.path().extension() == ".safetensors")
                    files.push_back(entry.path());
            std::sort(files.begin(), files.end());
        }
    }
    std::vector<SafetensorsShard> shards;
    for (const auto& file : files) {
        const auto mapped = MappedFile::open(file.string());
        const auto header = parse_safetensors_header(mapped->bytes(), file.string());
        SafetensorsShard shard{file.filename().string(), {}, header.metadata};
        for (const auto& entry : header.entries)
            shard.tensors.push_back(entry.info.name);
        shards.push_back(std::move(shard));
    }
    return shards;
}

}  // namespace quantlens

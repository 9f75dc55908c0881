#include "export/gguf_export.hpp"

#include <cstring>
#include <filesystem>
#include <map>

#include "export/hf_llama_gguf.hpp"
#include "io/gguf.hpp"
#include "io/output_marker.hpp"
#include "model/llama_names.hpp"
#include "quant/ggml_iquants.hpp"
#include "quant/ggml_quantizer.hpp"
#include "tensor/convert.hpp"
#include "tensor/ggml_blocks.hpp"
#include "util/mapped_file.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

std::size_t row_length(const std::vector<std::int64_t>& shape) {
    return shape.empty() ? 0 : static_cast<std::size_t>(shape.back());
}

}  // namespace

namespace {

// The specs that are ggml types, by their canonical text (what llama-quantize calls them, in
// lower case).
const std::pair<const char*, DType> kGgmlSpecs[] = {
    {"q8_0", DType::Q8_0},     {"q4_0", DType::Q4_0},     {"q4_1", DType::Q4_1},
    {"q5_0", DType::Q5_0},     {"q5_1", DType::Q5_1},     {"q2_k", DType::Q2_K},
    {"q3_k", DType::Q3_K},     {"q4_k", DType::Q4_K},     {"q5_k", DType::Q5_K},
    {"q6_k", DType::Q6_K},     {"iq4_nl", DType::IQ4_NL}, {"iq4_xs", DType::IQ4_XS},
    {"tq1_0", DType::TQ1_0},   {"tq2_0", DType::TQ2_0},   {"iq2_xxs", DType::IQ2_XXS},
    {"iq2_xs", DType::IQ2_XS}, {"iq2_s", DType::IQ2_S},   {"iq3_xxs", DType::IQ3_XXS},
    {"iq3_s", DType::IQ3_S},   {"iq1_s", DType::IQ1_S},   {"iq1_m", DType::IQ1_M},
    {"f16", DType::F16},       {"bf16", DType::BF16},     {"f32", DType::F32}};

// llama-quantize's rule (src/llama-quant.cpp, tensor_requires_imatrix): the very-low-bit grid
// i-quants need an importance matrix on every tensor but the token embedding and the output.
bool llama_quantize_requires_importance(DType type, const std::string& llama_name) {
    if (is_llama_token_embedding(llama_name) || is_llama_output(llama_name))
        return false;
    return type == DType::IQ3_XXS || type == DType::IQ2_XXS || type == DType::IQ2_XS ||
           type == DType::IQ2_S || type == DType::IQ1_M || type == DType::IQ1_S;
}

}  // namespace

std::optional<DType> ggml_dtype_of(const QuantSpec& spec) {
    const auto text = spec.to_string();
    for (const auto& [name, type] : kGgmlSpecs)
        if (text == name)
            return type;
    return std::nullopt;
}

const std::string& ggml_type_names_text() {
    static const std::string text = [] {
        std::string list;
        for (const auto& [name, type] : kGgmlSpecs)
            list += (list.empty() ? "" : ", ") + std::string(name);
        return list;
    }();
    return text;
}

std::map<std::string, PlannedGgmlTensor> planned_ggml_types(const Model& model,
                                                            const std::vector<LayerAssignment>& assignments,
                                                            const std::string& out_path) {
    ExportChecks checks;
    std::map<std::string, PlannedGgmlTensor> planned;  // weight tensor → ggml type
    for (const auto& [layer, spec] : assignments) {
        const auto type = ggml_dtype_of(spec);
        const auto& info = model.file().tensor(layer->weight);
        if (!type) {
            checks.fail(layer->name,
                        spec.to_string() + " is not a ggml type (use " + ggml_type_names_text() + ")");
            continue;
        }
        const auto block = dtype_info(*type).block_elements;
        if (info.shape.empty() || info.shape.back() % block != 0) {
            checks.fail(layer->name, "rows of " + std::to_string(info.shape.empty() ? 0 : info.shape.back()) +
                                         " values are not whole " + std::to_string(block) +
                                         "-value blocks of " + spec.to_string() +
                                         " (use f16, bf16 or f32 for this layer)");
            continue;
        }
        std::span<const float> importance;
        try {
            importance = model.importance(*layer);
        } catch (const Error& error) {
            checks.fail(layer->name, error.reason());
            continue;
        }
        if (importance.empty() && (ggml::requires_importance(*type) ||
                                   llama_quantize_requires_importance(*type, model.llama_cpp_name(*layer)))) {
            checks.fail(layer->name, "llama-quantize writes " + spec.to_string() +
                                         " only with an importance matrix covering the tensor (without one "
                                         "the result is garbage, it says); pass --imatrix FILE with an "
                                         "entry for " +
                                         model.importance_name(*layer));
            continue;
        }
        planned[layer->weight] = {*type, importance};
    }
    for (const auto& tensor : model.file().tensors())
        if (tensor.dtype == DType::Unknown)  // its exact size is the type's to say
            checks.fail(tensor.name,
                        "is stored as " + stored_type_name(tensor) +
                            ", which this QuantLens can neither decode nor copy into a new GGUF");
    checks.throw_if_failed(out_path, "GGUF export");
    return planned;
}

namespace {
void check_gguf_source(const Model& model) {
    if (is_hf_llama(model))
        return check_hf_llama_source(model);
    if (model.file().format() != "gguf")
        throw Error(model.file().path(), "GGUF export",
                    "writes GGUF from GGUF models (keeping their metadata and tokenizer) and from Hugging "
                    "Face llama folders; for " +
                        std::string(model.file().format()) + " (architecture \"" + model.architecture() +
                        "\") use llama.cpp's convert_hf_to_gguf.py first");
}
}  // namespace

void check_gguf_export(const Model& model, const std::vector<LayerAssignment>& assignments,
                       const std::string& out_path) {
    check_gguf_source(model);
    planned_ggml_types(model, assignments, out_path);
}

ExportSummary export_gguf(const Model& model, const std::vector<LayerAssignment>& assignments,
                          const std::string& out_path, const Progress& progress, const CancelToken* cancel) {
    const std::string& source = model.file().path();
    if (is_hf_llama(model))
        return export_hf_llama_gguf(model, assignments, out_path, progress, cancel);
    check_gguf_source(model);
    refuse_to_overwrite_input(model.file(), out_path);

    const auto planned =
        planned_ggml_types(model, assignments, out_path);  // checks first: nothing is written on failure

    const auto header = parse_gguf(MappedFile::open(source)->bytes(), source);
    auto metadata = header.metadata;
    bool has_quantization_version = false;
    for (const auto& kv : metadata)
        has_quantization_version = has_quantization_version || kv.key == "general.quantization_version";
    bool quantizes = false;
    for (const auto& [tensor, plan] : planned)
        quantizes = quantizes || dtype_info(plan.type).block_elements > 1;
    if (quantizes && !has_quantization_version)
        metadata.push_back(gguf_u32("general.quantization_version", 2));  // as llama.cpp's quantize writes

    std::vector<GgufTensorDeclaration> declared;
    ExportSummary summary;
    for (const auto& entry : header.tensors) {
        const auto found = planned.find(entry.info.name);
        declared.push_back({entry.info.name, found == planned.end() ? entry.info.dtype : found->second.type,
                            entry.info.shape});
        summary.bytes_in += entry.info.byte_size;
    }
    GgufStreamWriter writer(out_path, with_writer_mark(metadata), declared);
    std::uint64_t done = 0;
    std::vector<float> values;  // one tensor at a time, storage reused
    std::vector<std::byte> encoded;
    for (const auto& entry : header.tensors) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (progress)
            progress(done, summary.bytes_in, entry.info.name);
        const auto& info = model.file().tensor(entry.info.name);
        const auto found = planned.find(info.name);
        if (found == planned.end()) {
            const auto bytes = model.file().read(info);
            writer.write_tensor(bytes.bytes());
            bytes.release_pages();
            summary.bytes_out += bytes.bytes().size();
        } else {
            const auto stored = model.file().read(info);
            values.resize(static_cast<std::size_t>(info.elements()));
            decode_to_f32(info.dtype, stored.bytes(), values);
            stored.release_pages();  // streamed: the source's pages leave the resident set
            encode_values(found->second.type, values, encoded, row_length(info.shape),
                          found->second.importance);
            writer.write_tensor(encoded);
            summary.bytes_out += encoded.size();
            ++summary.quantized;
        }
        ++summary.tensors;
        done += info.byte_size;
    }
    if (cancel)
        cancel->throw_if_cancelled();
    writer.commit();
    summary.written.push_back(out_path);
    if (progress)
        progress(summary.bytes_in, summary.bytes_in, "");
    return summary;
}

}  // namespace quantlens

#include "export/hf_llama_gguf.hpp"

#include <filesystem>
#include <map>
#include <regex>

#include "export/gguf_export.hpp"
#include "io/gguf.hpp"
#include "io/output_marker.hpp"
#include "model/llama_names.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

std::int64_t config_int(const nlohmann::json& config, const std::string& key, const std::string& path,
                        std::optional<std::int64_t> fallback = {}) {
    if (!config.contains(key) || config[key].is_null()) {
        if (fallback)
            return *fallback;
        throw Error(path, key, "llama config.json needs this field (an integer)");
    }
    if (!config[key].is_number_integer() || config[key].get<std::int64_t>() <= 0)
        throw Error(path, key, "must be a positive integer, found " + config[key].dump());
    return config[key].get<std::int64_t>();
}

double config_number(const nlohmann::json& config, const std::string& key, double fallback,
                     const std::string& path) {
    if (!config.contains(key) || config[key].is_null())
        return fallback;
    if (!config[key].is_number())
        throw Error(path, key, "must be a number, found " + config[key].dump());
    return config[key].get<double>();
}

// llama_ftype (llama.h) of the type most parameters are stored in.
std::uint32_t file_type_of(DType type) {
    switch (type) {
        case DType::F32: return 0;
        case DType::F16: return 1;
        case DType::Q4_0: return 2;
        case DType::Q4_1: return 3;
        case DType::Q8_0: return 7;
        case DType::Q5_0: return 8;
        case DType::Q5_1: return 9;
        case DType::Q2_K: return 10;
        case DType::Q3_K: return 12;  // llama-quantize's "Q3_K" is Q3_K_M
        case DType::Q4_K: return 15;  // Q4_K_M
        case DType::Q5_K: return 17;  // Q5_K_M
        case DType::Q6_K: return 18;
        case DType::IQ2_XXS: return 19;
        case DType::IQ2_XS: return 20;
        case DType::IQ3_XXS: return 23;
        case DType::IQ1_S: return 24;
        case DType::IQ4_NL: return 25;
        case DType::IQ3_S: return 26;
        case DType::IQ2_S: return 29;  // llama-quantize's IQ2_M (its "IQ2_S" writes IQ2_XS tensors)
        case DType::IQ1_M: return 31;
        case DType::IQ4_XS: return 30;
        case DType::BF16: return 32;
        case DType::TQ1_0: return 36;
        case DType::TQ2_0: return 37;
        default: return 0;
    }
}

}  // namespace

bool is_hf_llama(const Model& model) {
    const auto& config = model.file().config();
    return model.file().format() == "huggingface folder" && config.is_object() &&
           config.contains("model_type") && config["model_type"] == "llama";
}

void check_hf_llama_source(const Model& model) {
    const auto& config = model.file().config();
    if (config.contains("rope_scaling") && !config["rope_scaling"].is_null())
        throw Error((fs::path(model.file().path()) / "config.json").string(), "rope_scaling",
                    "rope scaling (" + config["rope_scaling"].dump() +
                        ") is not converted by QuantLens; use llama.cpp's convert_hf_to_gguf.py");
}

ExportSummary export_hf_llama_gguf(const Model& model, const std::vector<LayerAssignment>& assignments,
                                   const std::string& out_path, const Progress& progress,
                                   const CancelToken* cancel) {
    const auto& file = model.file();
    const auto config_path = (fs::path(file.path()) / "config.json").string();
    const auto& config = file.config();
    refuse_to_overwrite_input(file, out_path);
    check_hf_llama_source(model);
    const auto hidden = config_int(config, "hidden_size", config_path),
               heads = config_int(config, "num_attention_heads", config_path);
    const auto kv_heads = config_int(config, "num_key_value_heads", config_path, heads);
    const auto head_dim = config_int(config, "head_dim", config_path, hidden / heads);

    const auto planned = planned_ggml_types(model, assignments, out_path);  // checks before writing

    struct Output {
        const TensorInfo* source;
        std::string name;
        DType type;
        std::int64_t permute_heads = 0;
        std::span<const float> importance;
    };
    std::vector<Output> outputs;
    std::map<DType, std::uint64_t> parameters_by_type;
    ExportSummary summary;
    for (const auto& info : file.tensors()) {
        const auto name = llama_cpp_tensor_name(info.name, file.path());
        if (name.empty())
            continue;
        const bool vector = info.shape.size() == 1;
        DType type =
            (info.dtype == DType::F16 || info.dtype == DType::BF16 || info.dtype == DType::F32) && !vector
                ? info.dtype
                : DType::F32;
        std::span<const float> importance;
        if (const auto found = planned.find(info.name); found != planned.end()) {
            type = found->second.type;
            importance = found->second.importance;  // per column: the row permutation leaves it as it is
        }
        std::int64_t permute = 0;
        if (info.name.ends_with("self_attn.q_proj.weight"))
            permute = heads;
        if (info.name.ends_with("self_attn.k_proj.weight"))
            permute = kv_heads;
        if (permute && (info.shape.size() != 2 || info.shape[0] != permute * head_dim || head_dim % 2 != 0))
            throw Error(config_path, permute == heads ? "num_attention_heads" : "num_key_value_heads",
                        std::to_string(permute) + " heads of dimension " + std::to_string(head_dim) +
                            " do not match " + info.name + " of shape " + shape_text(info.shape));
        outputs.push_back({&info, name, type, permute, importance});
        if (!vector)
            parameters_by_type[type] += info.elements();
        summary.bytes_in += info.byte_size;
    }
    DType main_type = DType::F32;
    for (const auto& [type, count] : parameters_by_type)
        if (count > parameters_by_type[main_type])
            main_type = type;

    std::vector<GgufValue> metadata = {
        gguf_string("general.architecture", "llama"),
        gguf_string("general.name", fs::path(file.path()).filename().string()),
        gguf_u32("llama.context_length", static_cast<std::uint32_t>(config_int(
                                             config, "max_position_embeddings", config_path, 2048))),
        gguf_u32("llama.embedding_length", static_cast<std::uint32_t>(hidden)),
        gguf_u32("llama.block_count",
                 static_cast<std::uint32_t>(config_int(config, "num_hidden_layers", config_path))),
        gguf_u32("llama.feed_forward_length",
                 static_cast<std::uint32_t>(config_int(config, "intermediate_size", config_path))),
        gguf_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(head_dim)),
        gguf_u32("llama.attention.head_count", static_cast<std::uint32_t>(heads)),
        gguf_u32("llama.attention.head_count_kv", static_cast<std::uint32_t>(kv_heads)),
        gguf_f32("llama.attention.layer_norm_rms_epsilon",
                 static_cast<float>(config_number(config, "rms_norm_eps", 1e-6, config_path))),
        gguf_f32("llama.rope.freq_base",
                 static_cast<float>(config_number(config, "rope_theta", 10000.0, config_path))),
        gguf_u32("llama.vocab_size",
                 static_cast<std::uint32_t>(config_int(config, "vocab_size", config_path))),
        gguf_u32("general.file_type", file_type_of(main_type)),
        gguf_string("tokenizer.ggml.model", "no_vocab"),
    };
    if (head_dim != hidden / heads) {
        metadata.push_back(gguf_u32("llama.attention.key_length", static_cast<std::uint32_t>(head_dim)));
        metadata.push_back(gguf_u32("llama.attention.value_length", static_cast<std::uint32_t>(head_dim)));
    }
    bool quantizes = false;
    for (const auto& output : outputs)
        quantizes = quantizes || dtype_info(output.type).is_block;
    if (quantizes)
        metadata.push_back(gguf_u32("general.quantization_version", 2));
    summary.warnings.push_back(
        "no tokenizer was converted: the file says tokenizer.ggml.model = \"no_vocab\", so llama.cpp loads "
        "it and runs on token ids "
        "but cannot tokenize text (convert the tokenizer with llama.cpp's convert_hf_to_gguf.py)");

    std::vector<GgufTensorDeclaration> declared;
    for (const auto& output : outputs)
        declared.push_back({output.name, output.type, output.source->shape});
    GgufStreamWriter writer(out_path, with_writer_mark(metadata), declared);
    std::uint64_t done = 0;
    std::vector<std::byte> encoded;
    for (const auto& output : outputs) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (progress)
            progress(done, summary.bytes_in, output.source->name);
        const auto values = file.read_f32(*output.source);
        std::span<const float> rows = values.values();
        std::vector<float> permuted;
        if (output.permute_heads) {
            permuted = llama_permute_rows(rows, output.source->shape[0], output.source->shape[1],
                                          output.permute_heads);
            rows = permuted;
        }
        encode_values(
            output.type, rows, encoded,
            output.source->shape.empty() ? 0 : static_cast<std::size_t>(output.source->shape.back()),
            output.importance);
        writer.write_tensor(encoded);
        summary.bytes_out += encoded.size();
        summary.quantized += planned.count(output.source->name);
        ++summary.tensors;
        done += output.source->byte_size;
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

#include "export/compressed_tensors.hpp"

#include <cstring>
#include <filesystem>
#include <map>

#include "io/json_limits.hpp"
#include "io/output_marker.hpp"
#include "io/safetensors.hpp"
#include "util/atomic_file.hpp"
#include "util/parallel.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

DType cast_dtype(const QuantSpec& spec) {
    return spec.format == QuantFormat::F32   ? DType::F32
           : spec.format == QuantFormat::F16 ? DType::F16
                                             : DType::BF16;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

// The shapes of what one packed module writes, known before it is quantized.
struct PackedShapes {
    std::int64_t rows = 0, cols = 0, groups = 1;
    std::vector<std::int64_t> packed, scale, zero_point;
};

PackedShapes packed_shapes(const PackedScheme& scheme, std::int64_t rows, std::int64_t cols) {
    const std::int64_t per_word = 32 / scheme.num_bits;
    PackedShapes shapes{rows, cols, 1, {rows, ceil_div(cols, per_word)}, {}, {}};
    if (scheme.strategy == "tensor") {
        shapes.scale = {1};
        if (!scheme.symmetric)
            shapes.zero_point = {1};
    } else {
        shapes.groups = scheme.strategy == "group" ? cols / scheme.group_size : 1;
        shapes.scale = {rows, shapes.groups};
        if (!scheme.symmetric)
            shapes.zero_point = {ceil_div(rows, per_word), shapes.groups};
    }
    return shapes;
}

template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& values) {
    return std::as_bytes(std::span<const T>(values));
}

struct Planned {
    const Layer* layer;
    QuantSpec spec;
    std::optional<PackedScheme> scheme;  // empty: a cast, written dense in that dtype
};

// Checks every assignment; returns the planned weights by tensor name, and the config.
struct CompressedPlan {
    std::map<std::string, Planned> weights;
    nlohmann::ordered_json config;
};

CompressedPlan plan_compressed(const Model& model, const std::vector<LayerAssignment>& assignments,
                               const std::string& out_path) {
    const auto& file = model.file();
    if (!is_safetensors_family(file))
        throw Error(out_path, "compressed-tensors",
                    "packs Hugging Face safetensors models (nn.Linear module names); " + file.path() +
                        " is " + std::string(file.format()));
    ExportChecks checks;
    CompressedPlan plan;
    std::vector<PackedScheme> schemes;
    std::vector<std::vector<std::string>> targets;
    std::map<std::string, std::size_t> scheme_of_module;
    for (const auto& [layer, spec] : assignments) {
        const auto module = module_of(*layer);
        if (spec.is_cast()) {
            plan.weights[layer->weight] = {layer, spec, std::nullopt};
            continue;
        }
        std::string why;
        const auto scheme = packed_scheme_of(spec, why);
        const auto shape = normalised_shape(file.tensor(layer->weight).shape, layer->orientation);
        if (!scheme) {
            checks.fail(layer->name, why);
            continue;
        }
        if (layer->kind != LayerKind::Linear || shape.size() != 2) {
            checks.fail(layer->name, "is not a Linear layer (" + std::string(layer_kind_name(layer->kind)) +
                                         "); compressed-tensors packs Linear layers only (give it f16, "
                                         "bf16 or f32 to keep it)");
            continue;
        }
        if (layer->orientation != Orientation::OutFirst) {
            checks.fail(layer->name,
                        "stores its weight [in, out] (GPT-2's Conv1D), which is not an nn.Linear; loaders "
                        "would not find a Linear to unpack into (keep it with f16)");
            continue;
        }
        if (module.empty()) {
            checks.fail(layer->name, "its weight \"" + layer->weight + "\" is not named <module>.weight");
            continue;
        }
        if (scheme->strategy == "group" && shape[1] % scheme->group_size != 0) {
            checks.fail(layer->name, "group size " + std::to_string(scheme->group_size) +
                                         " does not divide its " + std::to_string(shape[1]) +
                                         " input columns (choose a divisor, or channel scales)");
            continue;
        }
        std::size_t index = 0;
        while (index < schemes.size() && !(schemes[index] == *scheme))
            ++index;
        if (index == schemes.size()) {
            schemes.push_back(*scheme);
            targets.emplace_back();
        }
        targets[index].push_back(module);
        scheme_of_module[module] = index;
        plan.weights[layer->weight] = {layer, spec, scheme};
    }
    // vLLM fuses q/k/v and gate/up into one matrix and refuses shards of different schemes.
    for (const auto& [module, index] : scheme_of_module) {
        for (const auto& [first, partners] : std::vector<std::pair<std::string, std::vector<std::string>>>{
                 {".q_proj", {".k_proj", ".v_proj"}}, {".gate_proj", {".up_proj"}}}) {
            if (module.size() < first.size() ||
                module.compare(module.size() - first.size(), first.size(), first) != 0)
                continue;
            const auto prefix = module.substr(0, module.size() - first.size());
            for (const auto& partner : partners) {
                const auto found = scheme_of_module.find(prefix + partner);
                if (found != scheme_of_module.end() && found->second != index)
                    checks.fail(
                        prefix + partner,
                        "differs from " + module +
                            "; vLLM fuses them into one matrix with one scheme (give them the same spec)");
            }
        }
    }
    checks.throw_if_failed(out_path, "compressed-tensors");

    nlohmann::ordered_json groups = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < schemes.size(); ++i)
        groups["group_" + std::to_string(i)] = {{"targets", targets[i]},
                                                {"weights", scheme_weights_json(schemes[i])},
                                                {"input_activations", nullptr},
                                                {"output_activations", nullptr}};
    std::vector<std::string> ignore;
    for (const auto& layer : model.layers())
        if (layer.kind == LayerKind::Linear && !scheme_of_module.count(module_of(layer)))
            ignore.push_back(module_of(layer).empty() ? layer.name : module_of(layer));
    plan.config = {{"quant_method", "compressed-tensors"},
                   {"format", "pack-quantized"},
                   {"quantization_status", "compressed"},
                   {"config_groups", groups},
                   {"ignore", ignore},
                   {"kv_cache_scheme", nullptr}};
    return plan;
}

}  // namespace

std::optional<PackedScheme> packed_scheme_of(const QuantSpec& spec, std::string& why_not) {
    if (const auto why = needs_calibration(spec); !why.empty()) {
        why_not = why;
        return std::nullopt;
    }
    if (spec.format != QuantFormat::Int || (spec.bits != 4 && spec.bits != 8)) {
        why_not = spec.to_string() +
                  " is not a pack-quantized scheme (int4 or int8 with tensor, channel or group scales)";
        return std::nullopt;
    }
    PackedScheme scheme;
    scheme.num_bits = spec.bits;
    scheme.symmetric = spec.symmetric;
    switch (spec.granularity) {
        case Granularity::Tensor: scheme.strategy = "tensor"; break;
        case Granularity::Channel: scheme.strategy = "channel"; break;
        case Granularity::Group:
            scheme.strategy = "group";
            scheme.group_size = spec.group_size;
            break;
        default: why_not = spec.to_string() + " has no compressed-tensors strategy"; return std::nullopt;
    }
    switch (spec.scale_storage) {
        case ScaleStorage::F32: scheme.scale_dtype = DType::F32; break;
        case ScaleStorage::F16: scheme.scale_dtype = DType::F16; break;
        case ScaleStorage::BF16: scheme.scale_dtype = DType::BF16; break;
        default:
            why_not = spec.to_string() +
                      " stores E8M0 scales; pack-quantized scales are floats (use scale=f16 or scale=bf16)";
            return std::nullopt;
    }
    return scheme;
}

nlohmann::ordered_json scheme_weights_json(const PackedScheme& scheme) {
    return {{"num_bits", scheme.num_bits},
            {"type", "int"},
            {"symmetric", scheme.symmetric},
            {"strategy", scheme.strategy},
            {"group_size", scheme.strategy == "group" ? nlohmann::ordered_json(scheme.group_size)
                                                      : nlohmann::ordered_json(nullptr)},
            {"dynamic", false},
            {"actorder", nullptr},
            {"observer", "minmax"},
            {"observer_kwargs", nlohmann::ordered_json::object()},
            {"block_structure", nullptr}};
}

std::vector<std::int32_t> pack_int32(const std::vector<std::int32_t>& values, std::int64_t rows,
                                     std::int64_t cols, int bits, bool along_rows) {
    const std::int64_t per_word = 32 / bits, offset = std::int64_t{1} << (bits - 1),
                       mask = (std::int64_t{1} << bits) - 1;
    const std::int64_t out_rows = along_rows ? rows : ceil_div(rows, per_word),
                       out_cols = along_rows ? ceil_div(cols, per_word) : cols;
    std::vector<std::uint32_t> words(static_cast<std::size_t>(out_rows * out_cols), 0);
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            const auto unsigned_value =
                static_cast<std::uint32_t>((values[static_cast<std::size_t>(r * cols + c)] + offset) & mask);
            const std::int64_t word =
                along_rows ? r * out_cols + c / per_word : (r / per_word) * out_cols + c;
            const auto shift = static_cast<unsigned>(((along_rows ? c : r) % per_word) * bits);
            words[static_cast<std::size_t>(word)] |= unsigned_value << shift;
        }
    std::vector<std::int32_t> result(words.size());
    std::memcpy(result.data(), words.data(), words.size() * 4);
    return result;
}

void pack_rows_int32(std::span<const std::int32_t> codes, std::int32_t code_offset, std::int64_t rows,
                     std::int64_t cols, int bits, std::vector<std::int32_t>& words) {
    const std::int64_t per_word = 32 / bits, word_cols = ceil_div(cols, per_word);
    // signed q + 2^(b−1) = code − code_offset + 2^(b−1), masked to b bits
    const std::uint32_t shift_to_unsigned = static_cast<std::uint32_t>((1 << (bits - 1)) - code_offset),
                        mask = (1u << bits) - 1;
    words.resize(static_cast<std::size_t>(rows * word_cols));
    parallel_for(static_cast<std::size_t>(rows), 64, [&](std::size_t begin, std::size_t end) {
        for (std::size_t r = begin; r < end; ++r) {
            const std::int32_t* row = codes.data() + r * static_cast<std::size_t>(cols);
            auto* out =
                reinterpret_cast<std::uint32_t*>(words.data()) + r * static_cast<std::size_t>(word_cols);
            for (std::int64_t w = 0; w < word_cols; ++w) {
                std::uint32_t word = 0;
                const std::int64_t first = w * per_word, count = std::min(per_word, cols - first);
                for (std::int64_t k = 0; k < count; ++k)
                    word |= ((static_cast<std::uint32_t>(row[first + k]) + shift_to_unsigned) & mask)
                            << (k * bits);
                out[w] = word;
            }
        }
    });
}

std::vector<std::int32_t> unpack_int32(std::span<const std::int32_t> words, std::int64_t rows,
                                       std::int64_t cols, int bits, bool along_rows) {
    const std::int64_t per_word = 32 / bits, offset = std::int64_t{1} << (bits - 1),
                       mask = (std::int64_t{1} << bits) - 1;
    const std::int64_t word_cols = along_rows ? ceil_div(cols, per_word) : cols;
    std::vector<std::int32_t> values(static_cast<std::size_t>(rows * cols));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            const std::int64_t word =
                along_rows ? r * word_cols + c / per_word : (r / per_word) * word_cols + c;
            const auto shift = static_cast<unsigned>(((along_rows ? c : r) % per_word) * bits);
            const auto bits_value =
                (static_cast<std::uint32_t>(words[static_cast<std::size_t>(word)]) >> shift) &
                static_cast<std::uint32_t>(mask);
            values[static_cast<std::size_t>(r * cols + c)] =
                static_cast<std::int32_t>(bits_value) - static_cast<std::int32_t>(offset);
        }
    return values;
}

nlohmann::ordered_json compressed_tensors_config(const Model& model,
                                                 const std::vector<LayerAssignment>& assignments,
                                                 const std::string& out_path) {
    return plan_compressed(model, assignments, out_path).config;
}

ExportSummary export_packed_safetensors(const Model& model, const std::vector<LayerAssignment>& assignments,
                                        const std::string& out_folder, const Progress& progress,
                                        const CancelToken* cancel) {
    const auto& file = model.file();
    refuse_to_overwrite_input(file, out_folder);
    const auto plan = plan_compressed(model, assignments, out_folder);
    ExportSummary summary;
    for (const auto& info : file.tensors())
        summary.bytes_in += info.byte_size;

    AtomicDirectory directory(out_folder);
    nlohmann::ordered_json config = nlohmann::ordered_json::object();
    const auto folder = model_folder(file);
    if (!folder.empty()) {
        copy_side_files(
            folder, directory,
            [](const std::string& name) {
                return fs::path(name).extension() != ".safetensors" && name != "config.json" &&
                       name != "model.safetensors.index.json";
            },
            summary.warnings);
        if (file.config().is_object())
            config = nlohmann::ordered_json::parse(file.config().dump());
    }
    if (!file.config().is_object() || file.config().empty())
        summary.warnings.push_back(
            "the source has no config.json, so the written config.json holds only quantization_config; add "
            "the architecture's config before loading");
    config["quantization_config"] = plan.config;
    {
        AtomicFile out(directory.file("config.json"));
        const auto text = config.dump(2) + "\n";
        out.write(text.data(), text.size());
        out.commit();
    }

    const auto shards = safetensors_shards(file);
    nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
    std::uint64_t total_size = 0, done = 0;
    std::vector<std::byte> encoded;  // buffers reused from layer to layer
    std::vector<std::int32_t> words;
    PlannedLayerQuantizer quantizer;
    for (const auto& shard : shards) {
        std::vector<TensorDeclaration> declared;
        for (const auto& name : shard.tensors) {
            const auto& info = file.tensor(name);
            const auto found = plan.weights.find(name);
            if (found == plan.weights.end()) {
                declared.push_back({name, info.dtype, info.shape});
                continue;
            }
            const auto& planned = found->second;
            if (!planned.scheme) {
                declared.push_back({name, cast_dtype(planned.spec), info.shape});
                continue;
            }
            const auto module = module_of(*planned.layer);
            const auto shapes = packed_shapes(*planned.scheme, info.shape[0], info.shape[1]);
            declared.push_back({module + ".weight_packed", DType::I32, shapes.packed});
            declared.push_back({module + ".weight_scale", planned.scheme->scale_dtype, shapes.scale});
            if (!planned.scheme->symmetric)
                declared.push_back({module + ".weight_zero_point",
                                    planned.scheme->strategy == "tensor" ? DType::I8 : DType::I32,
                                    shapes.zero_point});
            declared.push_back({module + ".weight_shape", DType::I64, {2}});
        }
        for (const auto& tensor : declared) {
            weight_map[tensor.name] = shard.file_name;
            total_size += *storage_bytes(tensor.dtype, *element_count(tensor.shape));
        }
        SafetensorsStreamWriter writer(directory.file(shard.file_name), declared,
                                       with_writer_mark(shard.metadata));
        for (const auto& name : shard.tensors) {
            if (cancel)
                cancel->throw_if_cancelled();
            const auto& info = file.tensor(name);
            if (progress)
                progress(done, summary.bytes_in, name);
            done += info.byte_size;
            ++summary.tensors;
            const auto found = plan.weights.find(name);
            if (found == plan.weights.end()) {
                const auto bytes = file.read(info);
                writer.write_tensor(bytes.bytes());
                bytes.release_pages();
                continue;
            }
            const auto& planned = found->second;
            const auto& result = quantizer.quantize(model, *planned.layer, planned.spec, cancel);
            ++summary.quantized;
            if (!planned.scheme) {
                encode_values(cast_dtype(planned.spec), result.dequantized, encoded);
                writer.write_tensor(encoded);
                continue;
            }
            const auto& scheme = *planned.scheme;
            const auto shapes = packed_shapes(scheme, result.rows, result.cols);
            const std::int32_t offset =
                scheme.symmetric ? 0 : 1 << (scheme.num_bits - 1);  // asymmetric codes are 0 … 2^b−1
            pack_rows_int32(result.codes, offset, result.rows, result.cols, scheme.num_bits, words);
            writer.write_tensor(as_bytes_of(words));
            encode_values(scheme.scale_dtype, result.scales, encoded);
            writer.write_tensor(encoded);
            if (!scheme.symmetric) {
                std::vector<std::int32_t> zeros(result.zero_points.size());
                for (std::size_t i = 0; i < zeros.size(); ++i)
                    zeros[i] = result.zero_points[i] - offset;
                if (scheme.strategy == "tensor") {
                    const auto zero = static_cast<std::int8_t>(zeros.at(0));
                    writer.write_tensor(std::as_bytes(std::span<const std::int8_t>(&zero, 1)));
                } else {
                    writer.write_tensor(
                        as_bytes_of(pack_int32(zeros, shapes.rows, shapes.groups, scheme.num_bits, false)));
                }
            }
            const std::vector<std::int64_t> shape{result.rows, result.cols};
            writer.write_tensor(as_bytes_of(shape));
        }
        writer.commit();
    }
    if (shards.size() > 1 || fs::exists(fs::path(folder) / "model.safetensors.index.json")) {
        const nlohmann::ordered_json index = {{"metadata", {{"total_size", total_size}}},
                                              {"weight_map", weight_map}};
        AtomicFile out(directory.file("model.safetensors.index.json"));
        const auto text = index.dump(2) + "\n";
        out.write(text.data(), text.size());
        out.commit();
    }
    if (cancel)
        cancel->throw_if_cancelled();
    directory.commit();
    summary.bytes_out = total_size;
    summary.written.push_back(out_folder);
    if (progress)
        progress(summary.bytes_in, summary.bytes_in, "");
    return summary;
}

std::vector<float> dequantize_packed_module(const ModelFile& file, const std::string& module,
                                            const nlohmann::json& weights) {
    const auto& path = file.path();
    PackedScheme scheme;
    try {
        const auto integer = [&](const char* key) {
            const auto& value = weights.at(key);
            if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
                value.get<std::int64_t>() > (std::int64_t{1} << 31))
                throw Error(path, module,
                            std::string("quantization_config weights: ") + key +
                                " must be a non-negative integer, found " + value.dump());
            return value.get<std::int64_t>();
        };
        scheme.num_bits = static_cast<int>(integer("num_bits"));
        scheme.symmetric = weights.at("symmetric").get<bool>();
        scheme.strategy = weights.at("strategy").get<std::string>();
        if (scheme.strategy == "group")
            scheme.group_size = integer("group_size");
    } catch (const nlohmann::json::exception& error) {
        throw Error(path, module, std::string("quantization_config weights: ") + error.what());
    }
    if ((scheme.num_bits != 4 && scheme.num_bits != 8) ||
        (scheme.strategy != "tensor" && scheme.strategy != "channel" && scheme.strategy != "group") ||
        (scheme.strategy == "group" && scheme.group_size <= 0))
        throw Error(path, module, "unsupported pack-quantized scheme " + weights.dump());

    // Every size is checked against weight_shape before anything is indexed (untrusted file).
    const auto& shape_info = file.tensor_or_part(module + ".weight_shape");
    const auto shape_values = file.read_f32(shape_info);
    if (shape_values.values().size() != 2)
        throw Error(path, shape_info.name, "must hold 2 values [out, in]");
    const double rows_value = shape_values.values()[0], cols_value = shape_values.values()[1];
    if (!(rows_value >= 1 && cols_value >= 1 && rows_value * cols_value <= 1e10))
        throw Error(path, shape_info.name, "is not a valid [out, in]");
    const auto rows = static_cast<std::int64_t>(rows_value), cols = static_cast<std::int64_t>(cols_value);
    if (scheme.strategy == "group" && cols % scheme.group_size != 0)
        throw Error(path, shape_info.name, "in is not a whole number of groups");
    const auto expected = packed_shapes(scheme, rows, cols);
    const auto read_words = [&](const std::string& name, const std::vector<std::int64_t>& shape) {
        const auto& info = file.tensor_or_part(name);
        if (info.dtype != DType::I32 || info.shape != shape)
            throw Error(path, name,
                        "must be I32 " + shape_text(shape) + ", found " +
                            std::string(dtype_name(info.dtype)) + " " + shape_text(info.shape));
        const auto bytes = file.read(info);
        std::vector<std::int32_t> words(bytes.bytes().size() / 4);
        std::memcpy(words.data(), bytes.bytes().data(), words.size() * 4);
        return words;
    };
    const auto q =
        unpack_int32(read_words(module + ".weight_packed", expected.packed), rows, cols, scheme.num_bits);
    const auto& scale_info = file.tensor_or_part(module + ".weight_scale");
    if (scale_info.shape != expected.scale)
        throw Error(
            path, scale_info.name,
            "must have shape " + shape_text(expected.scale) + ", found " + shape_text(scale_info.shape));
    const auto scales = file.read_f32(scale_info);
    std::vector<std::int32_t> zeros;
    if (!scheme.symmetric) {
        const auto name = module + ".weight_zero_point";
        if (scheme.strategy == "tensor") {
            const auto& info = file.tensor_or_part(name);
            if (info.elements() != 1)
                throw Error(path, name, "must hold one zero point");
            const auto zero = file.read_f32(info);
            zeros.push_back(static_cast<std::int32_t>(zero.values()[0]));
        } else {
            zeros = unpack_int32(read_words(name, expected.zero_point), rows, expected.groups,
                                 scheme.num_bits, false);
        }
    }
    const std::int64_t group_cols = scheme.strategy == "group" ? scheme.group_size : cols;
    std::vector<float> values(q.size());
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c) {
            const std::size_t g = scheme.strategy == "tensor"
                                      ? 0
                                      : static_cast<std::size_t>(r * expected.groups + c / group_cols);
            const std::int32_t zero = zeros.empty() ? 0 : zeros[g];
            values[static_cast<std::size_t>(r * cols + c)] =
                static_cast<float>(q[static_cast<std::size_t>(r * cols + c)] - zero) * scales.values()[g];
        }
    return values;
}

}  // namespace quantlens

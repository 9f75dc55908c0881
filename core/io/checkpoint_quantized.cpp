#include "io/checkpoint_quantized.hpp"

#include <cctype>
#include <cstring>
#include <map>

#include "io/json_limits.hpp"
#include "tensor/stored_quantization.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

// A packed weight that cannot be used: `part` names the tensor at fault.
struct Unusable {
    std::string part, reason;
};

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string lower(std::string text) {
    for (auto& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

bool is_float_scale(DType type) {
    return type == DType::F32 || type == DType::F16 || type == DType::BF16;
}

bool is_float8(DType type) {
    return type == DType::F8_E4M3 || type == DType::F8_E5M2;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

std::string dims(const TensorInfo& info) {
    return std::string(dtype_name(info.dtype)) + " " + shape_text(info.shape);
}

class Finder {
public:
    Finder(const std::vector<TensorInfo>& tensors, const nlohmann::json& config,
           const std::function<TensorBytes(const TensorInfo&)>& read, std::string file)
        : read_(read), file_(std::move(file)) {
        for (const auto& tensor : tensors)
            by_name_.emplace(tensor.name, &tensor);
        for (const char* key : {"quantization_config", "quantization"})
            if (config.is_object() && config.contains(key) && config[key].is_object()) {
                quant_ = config[key];
                break;
            }
    }

    CheckpointWeights run(const std::vector<TensorInfo>& tensors) {
        for (const auto& tensor : tensors) {
            if (out_.consumed.count(tensor.name))
                continue;
            const auto& name = tensor.name;
            std::string module;
            auto handle = [&](auto&& recognise) {
                std::vector<std::string> parts;
                try {
                    recognise(parts);
                } catch (const Unusable& bad) {
                    out_.left_out.push_back({module + ".weight", 0, bad.part + ": " + bad.reason});
                } catch (const Error& error) {
                    out_.left_out.push_back({module + ".weight", 0, error.where() + ": " + error.reason()});
                }
                out_.consumed.insert(parts.begin(), parts.end());
            };
            if (ends_with(name, ".qweight")) {
                module = name.substr(0, name.size() - 8);
                handle([&](auto& parts) { gptq_or_awq(module, parts); });
            } else if (ends_with(name, ".weight_packed")) {
                module = name.substr(0, name.size() - 14);
                if (has(module + ".weight_scale"))
                    handle([&](auto& parts) { compressed_packed(module, parts); });
            } else if (ends_with(name, ".weight") && tensor.shape.size() >= 1) {
                module = name.substr(0, name.size() - 7);
                if (tensor.dtype == DType::U32 && has(module + ".scales") && has(module + ".biases"))
                    handle([&](auto& parts) { mlx(module, parts); });
                else if (tensor.dtype == DType::U8 && bnb_state(module))
                    handle([&](auto& parts) { bitsandbytes4(module, parts); });
                else if (tensor.dtype == DType::I8 && has(module + ".SCB"))
                    handle([&](auto& parts) { bitsandbytes8(module, parts); });
                else if ((is_float8(tensor.dtype) || tensor.dtype == DType::I8) &&
                         (has(module + ".weight_scale") || has(module + ".weight_scale_inv")))
                    handle([&](auto& parts) { scaled(module, parts); });
            }
        }
        return std::move(out_);
    }

private:
    bool has(const std::string& name) const { return by_name_.count(name) > 0; }

    // The part, recorded as consumed; Unusable when absent.
    const TensorInfo& part(const std::string& name, std::vector<std::string>& parts,
                           const std::string& role) {
        const auto found = by_name_.find(name);
        if (found == by_name_.end())
            throw Unusable{name, "missing (" + role + ")"};
        parts.push_back(name);
        return *found->second;
    }
    const TensorInfo* optional_part(const std::string& name, std::vector<std::string>& parts) {
        const auto found = by_name_.find(name);
        if (found == by_name_.end())
            return nullptr;
        parts.push_back(name);
        return found->second;
    }

    static void expect(bool ok, const TensorInfo& info, const std::string& what) {
        if (!ok)
            throw Unusable{info.name, what + ", found " + dims(info)};
    }

    std::int64_t quant_int(const nlohmann::json& object, std::initializer_list<const char*> keys,
                           std::int64_t fallback, bool required) const {
        for (const char* key : keys)
            if (object.contains(key)) {
                if (!object[key].is_number_integer())
                    throw Error(file_, std::string("config.json ") + key,
                                "must be an integer, found " + object[key].dump());
                return object[key].get<std::int64_t>();
            }
        if (required)
            throw Error(file_, std::string("config.json ") + *keys.begin(),
                        "needed to read the packed weights, and absent");
        return fallback;
    }

    std::string quant_method() const {
        return quant_.contains("quant_method") && quant_["quant_method"].is_string()
                   ? lower(quant_["quant_method"].get<std::string>())
                   : "";
    }

    // The dequantized weight's listing. The ONNX-like forms (one code per value) are checked by
    // StoredQuantization::validate; the packings were checked part by part above.
    void add(const std::string& module, StoredQuantization q) {
        if (q.packing == CheckpointPacking::None)
            q.validate(file_);
        TensorInfo info;
        info.name = module + ".weight";
        info.dtype = DType::F32;
        info.shape = q.shape;
        info.byte_size = static_cast<std::uint64_t>(q.shape[0] * q.shape[1]) * 4;
        info.quantization = std::make_shared<const StoredQuantization>(std::move(q));
        out_.weights.push_back(std::move(info));
    }

    // GPTQ (AutoGPTQ / GPTQModel) and AWQ (AutoAWQ) both name their codes qweight; config.json's
    // quant_method says which.
    void gptq_or_awq(const std::string& module, std::vector<std::string>& parts) {
        const auto& qweight = part(module + ".qweight", parts, "codes");
        const auto& qzeros = part(module + ".qzeros", parts, "packed zero points");
        const auto& scales = part(module + ".scales", parts, "scales");
        const auto* g_idx = optional_part(module + ".g_idx", parts);
        const auto method = quant_method();
        if (method != "gptq" && method != "awq")
            throw Unusable{
                qweight.name,
                "a qweight without a quantization_config naming gptq or awq (found \"" + method + "\")"};
        expect(qweight.dtype == DType::I32 && qweight.shape.size() == 2, qweight, "qweight must be I32 2-D");
        expect(qzeros.dtype == DType::I32 && qzeros.shape.size() == 2, qzeros, "qzeros must be I32 2-D");
        expect(is_float_scale(scales.dtype) && scales.shape.size() == 2, scales,
               "scales must be F16, BF16 or F32 2-D");
        StoredQuantization q;
        q.codes = qweight;
        q.scales = scales;
        q.zero_points = qzeros;
        q.output_type = scales.dtype;
        q.axis = 1;
        q.is_signed = false;
        if (method == "gptq") {
            const int bits = static_cast<int>(quant_int(quant_, {"bits"}, 4, true));
            if (bits != 2 && bits != 3 && bits != 4 && bits != 8)
                throw Error(file_, "config.json bits",
                            "GPTQ bits must be 2, 3, 4 or 8, found " + std::to_string(bits));
            const std::int64_t N = qweight.shape[1], K = qweight.shape[0] * 32 / bits, G = scales.shape[0];
            expect(qweight.shape[0] * 32 % bits == 0, qweight, "qweight rows must hold whole values");
            expect(scales.shape[1] == N && G >= 1, scales,
                   "scales must be [groups, " + std::to_string(N) + "]");
            expect(N * bits % 32 == 0 && qzeros.shape == std::vector<std::int64_t>{G, N * bits / 32}, qzeros,
                   "qzeros must be I32 [" + std::to_string(G) + ", " + std::to_string(N * bits / 32) + "]");
            const std::int64_t group = quant_int(quant_, {"group_size"}, 128, true);
            q.block_size = group <= 0 ? K : group;
            if (g_idx) {
                expect(g_idx->dtype == DType::I32 && g_idx->shape == std::vector<std::int64_t>{K}, *g_idx,
                       "g_idx must be I32 [" + std::to_string(K) + "]");
                q.group_index = *g_idx;
            } else {
                expect(G == ceil_div(K, q.block_size), scales,
                       std::to_string(ceil_div(K, q.block_size)) + " groups of " +
                           std::to_string(q.block_size) + " expected");
            }
            const auto format =
                quant_.contains("checkpoint_format") && quant_["checkpoint_format"].is_string()
                    ? lower(quant_["checkpoint_format"].get<std::string>())
                    : std::string("gptq");
            q.zero_offset = format == "gptq_v2" ? 0 : 1;
            q.form = format == "gptq_v2" ? "GPTQ v2" : "GPTQ";
            q.bits = bits;
            q.packing = CheckpointPacking::GptqColumns;
            q.shape = {N, K};
        } else {
            const int bits = static_cast<int>(quant_int(quant_, {"bits", "w_bit"}, 4, false));
            if (bits != 4)
                throw Error(file_, "config.json bits",
                            "AWQ packs 4-bit codes, found " + std::to_string(bits));
            const std::int64_t group = quant_int(quant_, {"group_size", "q_group_size"}, 128, true);
            const auto version = quant_.contains("version") && quant_["version"].is_string()
                                     ? lower(quant_["version"].get<std::string>())
                                     : std::string("gemm");
            q.bits = 4;
            if (version == "gemv") {
                const std::int64_t N = qweight.shape[0], K = qweight.shape[1] * 8, W = qzeros.shape[1];
                q.block_size = group <= 0 ? K : group;
                const std::int64_t G = ceil_div(K, q.block_size);
                expect(qzeros.shape[0] == N && W * 8 >= G, qzeros,
                       "qzeros must be I32 [" + std::to_string(N) + ", ≥" + std::to_string(ceil_div(G, 8)) +
                           "]");
                expect(scales.shape == std::vector<std::int64_t>{N, W * 8}, scales,
                       "scales must be [" + std::to_string(N) + ", " + std::to_string(W * 8) + "]");
                q.packing = CheckpointPacking::AwqGemv;
                q.form = "AWQ GEMV";
                q.shape = {N, K};
            } else if (version == "gemm") {
                const std::int64_t K = qweight.shape[0], N = qweight.shape[1] * 8;
                q.block_size = group <= 0 ? K : group;
                const std::int64_t G = ceil_div(K, q.block_size);
                expect(K % q.block_size == 0, qweight,
                       "AWQ's GEMM needs whole groups of " + std::to_string(q.block_size));
                expect(qzeros.shape == std::vector<std::int64_t>{G, N / 8}, qzeros,
                       "qzeros must be I32 [" + std::to_string(G) + ", " + std::to_string(N / 8) + "]");
                expect(scales.shape == std::vector<std::int64_t>{G, N}, scales,
                       "scales must be [" + std::to_string(G) + ", " + std::to_string(N) + "]");
                q.packing = CheckpointPacking::AwqGemm;
                q.form = "AWQ GEMM";
                q.shape = {N, K};
            } else {
                throw Error(file_, "config.json version",
                            "AWQ version \"" + version + "\" is not gemm or gemv");
            }
        }
        add(module, std::move(q));
    }

    // MLX (mlx.core.quantize): config.json "quantization" {group_size, bits}, per-module entries
    // overriding it.
    void mlx(const std::string& module, std::vector<std::string>& parts) {
        const auto& weight = part(module + ".weight", parts, "codes");
        const auto& scales = part(module + ".scales", parts, "scales");
        const auto& biases = part(module + ".biases", parts, "biases");
        nlohmann::json settings = quant_;
        if (quant_.contains(module) && quant_[module].is_object())
            settings = quant_[module];
        const int bits = static_cast<int>(quant_int(settings, {"bits"}, 4, true));
        const std::int64_t group = quant_int(settings, {"group_size"}, 64, true);
        if (bits < 1 || bits > 8 || group < 1)
            throw Error(file_, "config.json quantization", "bits 1-8 and a positive group_size expected");
        expect(weight.shape.size() == 2 && weight.shape[1] * 32 % bits == 0, weight,
               "weight must be U32 [N, K·bits/32]");
        const std::int64_t N = weight.shape[0], K = weight.shape[1] * 32 / bits;
        expect(K % group == 0, weight,
               "K = " + std::to_string(K) + " is not whole groups of " + std::to_string(group));
        const std::vector<std::int64_t> group_shape{N, K / group};
        expect(is_float_scale(scales.dtype) && scales.shape == group_shape, scales,
               "scales must be float " + shape_text(group_shape));
        expect(biases.dtype == scales.dtype && biases.shape == group_shape, biases,
               "biases must match the scales");
        StoredQuantization q;
        q.form = "MLX";
        q.codes = weight;
        q.scales = scales;
        q.zero_points = biases;
        q.bits = bits;
        q.is_signed = false;
        q.axis = 1;
        q.block_size = group;
        q.packing = CheckpointPacking::MlxRows;
        q.output_type = scales.dtype;
        q.shape = {N, K};
        add(module, std::move(q));
    }

    const TensorInfo* bnb_state(const std::string& module) const {
        for (const char* type : {"nf4", "fp4"})
            if (const auto found = by_name_.find(module + ".weight.quant_state.bitsandbytes__" + type);
                found != by_name_.end())
                return found->second;
        return nullptr;
    }

    // bitsandbytes 4-bit (Params4bit, QuantState.as_dict(packed=True)).
    void bitsandbytes4(const std::string& module, std::vector<std::string>& parts) {
        const auto& weight = part(module + ".weight", parts, "codes");
        const auto* state_info = bnb_state(module);
        parts.push_back(state_info->name);
        if (state_info->dtype != DType::U8 || state_info->byte_size > (1 << 16))
            throw Unusable{state_info->name,
                           "quant state must be a U8 JSON blob under 64 KiB, found " + dims(*state_info)};
        const TensorBytes bytes = read_(*state_info);
        const std::string text(reinterpret_cast<const char*>(bytes.bytes().data()), bytes.bytes().size());
        const auto state = parse_untrusted_json(text, file_, state_info->name);
        auto field = [&](const char* key) -> const nlohmann::json& {
            if (!state.is_object() || !state.contains(key))
                throw Unusable{state_info->name, std::string("quant state has no \"") + key + "\""};
            return state[key];
        };
        const auto& shape_json = field("shape");
        if (!shape_json.is_array() || shape_json.size() != 2 || !shape_json[0].is_number_unsigned() ||
            !shape_json[1].is_number_unsigned())
            throw Unusable{state_info->name,
                           "quant state shape must be [out, in], found " + shape_json.dump()};
        const auto N = shape_json[0].get<std::int64_t>(), K = shape_json[1].get<std::int64_t>();
        if (N < 1 || K < 1 || N > (std::int64_t{1} << 31) || K > (std::int64_t{1} << 31))
            throw Unusable{state_info->name, "quant state shape " + shape_json.dump() + " is out of range"};
        const auto& block_json = field("blocksize");
        if (!block_json.is_number_unsigned() || block_json.get<std::int64_t>() < 2 ||
            block_json.get<std::int64_t>() > 65536)
            throw Unusable{state_info->name, "blocksize must be 2 to 65536, found " + block_json.dump()};
        const std::int64_t block = block_json.get<std::int64_t>(), blocks = ceil_div(N * K, block);
        const auto& dtype_json = field("dtype");
        const std::map<std::string, DType> dtypes{
            {"float16", DType::F16}, {"bfloat16", DType::BF16}, {"float32", DType::F32}};
        if (!dtype_json.is_string() || !dtypes.count(dtype_json.get<std::string>()))
            throw Unusable{state_info->name,
                           "dtype must be float16, bfloat16 or float32, found " + dtype_json.dump()};
        const auto& type_json = field("quant_type");
        const std::string quant_type = type_json.is_string() ? type_json.get<std::string>() : "";
        expect(weight.elements() == static_cast<std::uint64_t>(ceil_div(N * K, 2)), weight,
               "packed weight must hold " + std::to_string(ceil_div(N * K, 2)) + " bytes");
        StoredQuantization q;
        q.form = "bitsandbytes 4-bit";
        q.codes = weight;
        q.code_name = quant_type;
        q.bits = 4;
        q.is_signed = false;
        q.axis = 1;
        q.block_size = block;
        q.packing = CheckpointPacking::Bitsandbytes4;
        q.output_type = dtypes.at(dtype_json.get<std::string>());
        q.shape = {N, K};
        const auto& quant_map = part(module + ".weight.quant_map", parts, "code values");
        expect(quant_map.dtype == DType::F32 && quant_map.elements() == 16, quant_map,
               "quant_map must be F32 [16]");
        q.tables.push_back(quant_map);
        const auto& absmax = part(module + ".weight.absmax", parts, "block scales");
        if (state.contains("nested_blocksize")) {
            const auto& nested_block = state["nested_blocksize"];
            const auto& offset = field("nested_offset");
            if (!nested_block.is_number_unsigned() || nested_block.get<std::int64_t>() < 1 ||
                !offset.is_number())
                throw Unusable{state_info->name, "nested_blocksize and nested_offset must be numbers"};
            q.nested_block_size = nested_block.get<std::int64_t>();
            q.nested_offset = offset.get<float>();
            expect(absmax.dtype == DType::U8 && absmax.elements() == static_cast<std::uint64_t>(blocks),
                   absmax, "nested absmax codes must be U8 [" + std::to_string(blocks) + "]");
            const auto& nested_absmax = part(module + ".weight.nested_absmax", parts, "nested block scales");
            const auto& nested_map = part(module + ".weight.nested_quant_map", parts, "nested code values");
            expect(
                nested_absmax.dtype == DType::F32 &&
                    nested_absmax.elements() ==
                        static_cast<std::uint64_t>(ceil_div(blocks, q.nested_block_size)),
                nested_absmax,
                "nested_absmax must be F32 [" + std::to_string(ceil_div(blocks, q.nested_block_size)) + "]");
            expect(nested_map.dtype == DType::F32 && nested_map.elements() == 256, nested_map,
                   "nested_quant_map must be F32 [256]");
            q.tables.push_back(nested_absmax);
            q.tables.push_back(nested_map);
        } else {
            expect(absmax.dtype == DType::F32 && absmax.elements() == static_cast<std::uint64_t>(blocks),
                   absmax, "absmax must be F32 [" + std::to_string(blocks) + "]");
        }
        q.scales = absmax;
        add(module, std::move(q));
    }

    // bitsandbytes 8-bit (Int8Params): weight int8 [N, K] and SCB, the absolute maximum per row.
    void bitsandbytes8(const std::string& module, std::vector<std::string>& parts) {
        const auto& weight = part(module + ".weight", parts, "codes");
        const auto& scb = part(module + ".SCB", parts, "row scales");
        optional_part(module + ".weight_format", parts);
        expect(weight.shape.size() == 2, weight, "weight must be I8 [N, K]");
        expect(scb.dtype == DType::F32 && scb.elements() == static_cast<std::uint64_t>(weight.shape[0]), scb,
               "SCB must be F32 [" + std::to_string(weight.shape[0]) + "]");
        StoredQuantization q;
        q.form = "bitsandbytes 8-bit";
        q.codes = weight;
        q.scales = scb;
        q.bits = 8;
        q.axis = 0;
        q.packing = CheckpointPacking::Bitsandbytes8;
        q.shape = weight.shape;
        add(module, std::move(q));
    }

    // The block of a 2-D scale grid: config's weight_block_size (FP8 releases) or a
    // compressed-tensors block strategy's block_structure.
    std::vector<std::int64_t> block_of_config() const {
        auto pair = [](const nlohmann::json& value) -> std::vector<std::int64_t> {
            if (value.is_array() && value.size() == 2 && value[0].is_number_unsigned() &&
                value[1].is_number_unsigned())
                return {value[0].get<std::int64_t>(), value[1].get<std::int64_t>()};
            return {};
        };
        if (quant_.contains("weight_block_size"))
            return pair(quant_["weight_block_size"]);
        if (quant_.contains("config_groups") && quant_["config_groups"].is_object())
            for (const auto& group : quant_["config_groups"])
                if (group.is_object() && group.contains("weights") && group["weights"].is_object() &&
                    group["weights"].contains("block_structure"))
                    return pair(group["weights"]["block_structure"]);
        return {};
    }

    std::int64_t config_group_size() const {
        if (quant_.contains("config_groups") && quant_["config_groups"].is_object())
            for (const auto& group : quant_["config_groups"])
                if (group.is_object() && group.contains("weights") && group["weights"].is_object() &&
                    group["weights"].contains("group_size") &&
                    group["weights"]["group_size"].is_number_unsigned())
                    return group["weights"]["group_size"].get<std::int64_t>();
        return 0;
    }

    // A weight stored as float8 or int8 codes beside weight_scale (per tensor, channel, group or
    // 2-D block) or weight_scale_inv (FP8 releases' blocks): compressed-tensors float-, int- and
    // naive-quantized, FBGEMM FP8, DeepSeek-V3 and Qwen FP8.
    void scaled(const std::string& module, std::vector<std::string>& parts) {
        const auto& weight = part(module + ".weight", parts, "codes");
        const bool inverse = has(module + ".weight_scale_inv");
        const auto& scale = part(module + (inverse ? ".weight_scale_inv" : ".weight_scale"), parts, "scales");
        const auto* zero = optional_part(module + ".weight_zero_point", parts);
        expect(weight.shape.size() == 2, weight, "weight codes must be 2-D");
        expect(is_float_scale(scale.dtype), scale, "scales must be F32, F16 or BF16");
        const std::int64_t N = weight.shape[0], K = weight.shape[1];
        StoredQuantization q;
        q.codes = weight;
        q.scales = scale;
        q.shape = weight.shape;
        q.is_float8 = is_float8(weight.dtype);
        q.bits = 8;
        q.is_signed = true;
        const auto method = quant_method();
        q.form = method == "compressed-tensors" ? "compressed-tensors" : (q.is_float8 ? "FP8" : "int8");
        if (zero) {
            if (q.is_float8)
                throw Unusable{zero->name, "a float8 weight has no zero points"};
            q.zero_points = *zero;
        }
        const auto n = scale.elements();
        const bool per_channel =
            scale.shape == std::vector<std::int64_t>{N} || scale.shape == std::vector<std::int64_t>{N, 1};
        if (n == 1 && !inverse) {
            q.axis = -1;
        } else if (per_channel && !inverse && N != 1) {
            q.axis = 0;
        } else if (scale.shape.size() == 2) {
            auto block = block_of_config();
            if (inverse && block.empty())
                block = {128, 128};  // DeepSeek-V3's and Qwen's FP8 block, when config.json does not say
            if (!block.empty() && block[0] > 0 && block[1] > 0 &&
                scale.shape == std::vector<std::int64_t>{ceil_div(N, block[0]), ceil_div(K, block[1])}) {
                if (zero)
                    throw Unusable{zero->name, "zero points with 2-D block scales are not a published form"};
                q.packing = CheckpointPacking::Float8Blocks;
                q.block_rows = block[0];
                q.block_size = block[1];
                q.axis = 1;
                q.output_type = DType::F32;
                add(module, std::move(q));
                return;
            }
            if (inverse)
                throw Unusable{scale.name, "weight_scale_inv must be [⌈N/" +
                                               std::to_string(block.empty() ? 128 : block[0]) + "⌉, ⌈K/" +
                                               std::to_string(block.empty() ? 128 : block[1]) + "⌉], found " +
                                               dims(scale)};
            // Groups along the input: [N, ⌈K/g⌉].
            const std::int64_t groups = scale.shape[1];
            std::int64_t group = config_group_size();
            if (group <= 0 || ceil_div(K, group) != groups)
                group = ceil_div(K, groups);
            expect(scale.shape[0] == N && ceil_div(K, group) == groups, scale,
                   "group scales must be [" + std::to_string(N) + ", groups]");
            q.axis = 1;
            q.block_size = group;
        } else {
            throw Unusable{
                scale.name,
                "scales must be one value, one per output row, groups or blocks, found " + dims(scale)};
        }
        if (zero && zero->shape != scale.shape && zero->elements() == scale.elements())
            q.zero_points->shape = scale.shape;
        add(module, std::move(q));
    }

    // compressed-tensors pack-quantized: weight_packed, weight_scale, weight_shape (and
    // weight_zero_point when asymmetric).
    void compressed_packed(const std::string& module, std::vector<std::string>& parts) {
        const auto& packed = part(module + ".weight_packed", parts, "codes");
        const auto& scale = part(module + ".weight_scale", parts, "scales");
        const auto& shape_info = part(module + ".weight_shape", parts, "weight shape");
        const auto* zero = optional_part(module + ".weight_zero_point", parts);
        expect(shape_info.dtype == DType::I64 && shape_info.elements() == 2, shape_info,
               "weight_shape must be I64 [2]");
        const TensorBytes shape_bytes = read_(shape_info);
        std::int64_t shape[2];
        std::memcpy(shape, shape_bytes.bytes().data(), 16);
        const std::int64_t N = shape[0], K = shape[1];
        if (N < 1 || K < 1 || N > (std::int64_t{1} << 31) || K > (std::int64_t{1} << 31))
            throw Unusable{shape_info.name, "weight_shape [" + std::to_string(N) + ", " + std::to_string(K) +
                                                "] is out of range"};
        expect(packed.dtype == DType::I32 && packed.shape.size() == 2 && packed.shape[0] == N, packed,
               "weight_packed must be I32 [" + std::to_string(N) + ", words]");
        int bits = 0;
        for (int candidate : {8, 4, 2})
            if (ceil_div(K, 32 / candidate) == packed.shape[1])
                bits = candidate;
        if (quant_.contains("config_groups") && quant_["config_groups"].is_object() &&
            quant_["config_groups"].size() == 1) {
            const auto& weights =
                quant_["config_groups"].begin().value().value("weights", nlohmann::json::object());
            if (weights.is_object() && weights.contains("num_bits") &&
                weights["num_bits"].is_number_integer())
                bits = weights["num_bits"].get<int>();
        }
        expect(bits > 0 && 32 % bits == 0 && ceil_div(K, 32 / bits) == packed.shape[1], packed,
               "the words of 2-, 4- or 8-bit codes of a row of " + std::to_string(K));
        expect(is_float_scale(scale.dtype), scale, "scales must be F32, F16 or BF16");
        StoredQuantization q;
        q.form = "compressed-tensors";
        q.codes = packed;
        q.scales = scale;
        q.bits = bits;
        q.is_signed = true;
        q.packing = CheckpointPacking::CompressedPacked;
        // (q − zero)·scale in float32, as QuantLens's preview and export compute it; compressed-
        // tensors' own dequantize rounds that to the scale's dtype (docs/formats.md §15).
        q.output_type = DType::F32;
        q.shape = {N, K};
        q.tables.push_back(shape_info);  // read at open; kept so the weight's parts are all listed
        std::int64_t groups = 1;
        if (scale.elements() == 1) {
            q.axis = -1;
        } else if (scale.shape.size() == 2 && scale.shape[0] == N) {
            groups = scale.shape[1];
            q.axis = groups == 1 ? 0 : 1;
            q.block_size = groups == 1 ? 0 : ceil_div(K, groups);
            expect(groups == 1 || ceil_div(K, q.block_size) == groups, scale,
                   "group scales must cover the rows");
        } else {
            throw Unusable{scale.name, "scales must be [1], [" + std::to_string(N) + ", 1] or [" +
                                           std::to_string(N) + ", groups]"};
        }
        if (zero && q.axis < 0) {
            expect((zero->dtype == DType::I8 || zero->dtype == DType::I32) && zero->elements() == 1, *zero,
                   "a per-tensor zero point must be one I8 or I32");
            q.zero_points = *zero;
        } else if (zero) {
            const std::int64_t per_word = 32 / bits;
            const std::vector<std::int64_t> packed_zeros{ceil_div(N, per_word), groups};
            expect(zero->dtype == DType::I32 && zero->shape == packed_zeros, *zero,
                   "packed zero points must be I32 " + shape_text(packed_zeros));
            q.zero_points = *zero;
        }
        add(module, std::move(q));
    }

    nlohmann::json quant_ = nlohmann::json::object();
    const std::function<TensorBytes(const TensorInfo&)>& read_;
    std::string file_;
    std::map<std::string, const TensorInfo*> by_name_;
    CheckpointWeights out_;
};

}  // namespace

CheckpointWeights find_checkpoint_weights(const std::vector<TensorInfo>& tensors,
                                          const nlohmann::json& config,
                                          const std::function<TensorBytes(const TensorInfo&)>& read,
                                          const std::string& file) {
    return Finder(tensors, config, read, file).run(tensors);
}

}  // namespace quantlens

#include "nn/gguf_graph.hpp"

#include <cmath>
#include <map>
#include <regex>

#include "nn/hf_builder.hpp"
#include "util/error.hpp"

namespace quantlens::nn {

namespace {

using json = nlohmann::json;

constexpr const char* kSupported = "llama, qwen2, qwen3, gemma2, gemma3, phi3";

std::string architecture_of(const Model& model) {
    const auto& metadata = model.file().metadata();
    if (model.file().format() != "gguf" || !metadata.contains("general.architecture") ||
        !metadata["general.architecture"].is_string())
        return "";
    return metadata["general.architecture"].get<std::string>();
}

bool supported(const std::string& arch) {
    return arch == "llama" || arch == "qwen2" || arch == "qwen3" || arch == "gemma2" || arch == "gemma3" ||
           arch == "phi3";
}

// Hugging Face's layer name → llama.cpp's (convert_hf_to_gguf.py's tensor map for these
// architectures; Gemma's post-attention norm is a norm of its own there, not the MLP's).
std::string llama_cpp_layer(const std::string& hf, bool gemma) {
    static const std::map<std::string, std::string> top = {
        {"model.embed_tokens", "token_embd"}, {"model.norm", "output_norm"}, {"lm_head", "output"}};
    if (const auto found = top.find(hf); found != top.end())
        return found->second;
    static const std::map<std::string, std::string> block = {{"input_layernorm", "attn_norm"},
                                                             {"self_attn.q_proj", "attn_q"},
                                                             {"self_attn.k_proj", "attn_k"},
                                                             {"self_attn.v_proj", "attn_v"},
                                                             {"self_attn.o_proj", "attn_output"},
                                                             {"self_attn.qkv_proj", "attn_qkv"},
                                                             {"self_attn.q_norm", "attn_q_norm"},
                                                             {"self_attn.k_norm", "attn_k_norm"},
                                                             {"pre_feedforward_layernorm", "ffn_norm"},
                                                             {"post_feedforward_layernorm", "post_ffw_norm"},
                                                             {"mlp.gate_proj", "ffn_gate"},
                                                             {"mlp.up_proj", "ffn_up"},
                                                             {"mlp.gate_up_proj", "ffn_up"},
                                                             {"mlp.down_proj", "ffn_down"}};
    static const std::regex in_block(R"(model\.layers\.(\d+)\.(.+))");
    std::smatch match;
    if (!std::regex_match(hf, match, in_block))
        return hf;
    const auto part = match[2].str();
    std::string name = part == "post_attention_layernorm" ? (gemma ? "post_attention_norm" : "ffn_norm") : "";
    if (name.empty()) {
        const auto found = block.find(part);
        if (found == block.end())
            return hf;
        name = found->second;
    }
    return "blk." + match[1].str() + "." + name;
}

// The hyperparameters llama.cpp reads, as the config.json fields the decoder builder takes.
struct Metadata {
    const Model& model;
    const std::string& arch;
    const json& values = model.file().metadata();

    [[noreturn]] void fail(const std::string& key, const std::string& message) const {
        throw Error(model.file().path(), "GGUF metadata " + key, message);
    }
    bool has(const std::string& key) const { return values.contains(arch + "." + key); }
    std::int64_t integer(const std::string& key, std::int64_t fallback = -1) const {
        const auto full = arch + "." + key;
        if (!values.contains(full)) {
            if (fallback < 0)
                fail(full, "is missing");
            return fallback;
        }
        const auto& value = values[full];
        if (value.is_array())
            fail(full, "differs between layers, which the engine does not build");
        if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
            value.get<std::int64_t>() > (1 << 24))
            fail(full, "must be a positive integer");
        return value.get<std::int64_t>();
    }
    double number(const std::string& key, double fallback) const {
        const auto full = arch + "." + key;
        if (!values.contains(full))
            return fallback;
        if (!values[full].is_number() || !std::isfinite(values[full].get<double>()))
            fail(full, "must be a number");
        return values[full].get<double>();
    }
    std::string text(const std::string& key, const std::string& fallback) const {
        const auto full = arch + "." + key;
        if (!values.contains(full))
            return fallback;
        if (!values[full].is_string())
            fail(full, "must be a string");
        return values[full].get<std::string>();
    }

    // llama.cpp's sliding-window layers: the pattern array, or every layer but each n-th
    // (il % n < n − 1) with the architecture's n.
    json layer_types(std::int64_t layers, std::int64_t every) const {
        json types = json::array();
        const auto key = arch + ".attention.sliding_window_pattern";
        const json* pattern = values.contains(key) ? &values[key] : nullptr;
        if (pattern && pattern->is_array() && static_cast<std::int64_t>(pattern->size()) != layers)
            fail(key, "must list one flag per layer");
        if (pattern && !pattern->is_array())
            every = integer("attention.sliding_window_pattern");
        for (std::int64_t i = 0; i < layers; ++i) {
            bool sliding = every == 0 || i % every < every - 1;
            if (pattern && pattern->is_array()) {
                const auto& flag = (*pattern)[static_cast<std::size_t>(i)];
                if (!flag.is_boolean())
                    fail(key, "must hold true or false per layer");
                sliding = flag.get<bool>();
            }
            types.push_back(sliding ? "sliding_attention" : "full_attention");
        }
        return types;
    }

    json config(bool has_tensor_bias, bool has_mlp_bias) const {
        const auto layers = integer("block_count"), d = integer("embedding_length"),
                   heads = integer("attention.head_count");
        json c = {{"model_type", arch == "gemma3" ? "gemma3_text" : arch},
                  {"hidden_size", d},
                  {"num_hidden_layers", layers},
                  {"num_attention_heads", heads},
                  {"num_key_value_heads", integer("attention.head_count_kv", heads)},
                  {"intermediate_size", integer("feed_forward_length")},
                  {"max_position_embeddings", integer("context_length")},
                  {"rms_norm_eps", number("attention.layer_norm_rms_epsilon", 1e-5)},
                  {"rope_theta", number("rope.freq_base", 10000)},
                  {"attention_bias", has_tensor_bias},
                  {"mlp_bias", has_mlp_bias},
                  {"hidden_act", arch.rfind("gemma", 0) == 0 ? "gelu_pytorch_tanh" : "silu"}};
        if (has("attention.key_length"))
            c["head_dim"] = integer("attention.key_length");
        const auto head_dim = c.contains("head_dim") ? c["head_dim"].get<std::int64_t>() : d / heads;
        if (integer("rope.dimension_count", head_dim) != head_dim)
            fail(arch + ".rope.dimension_count", "other than the head size is not supported");
        const auto scaling = text("rope.scaling.type", "none");
        const double factor = number("rope.scaling.factor", number("rope.scale_linear", 0));
        if (scaling == "linear" && factor > 0)
            c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", factor}};
        else if (scaling != "none" && scaling != "linear")
            fail(arch + ".rope.scaling.type",
                 "\"" + scaling + "\" is not supported in GGUF files (none, linear)");
        // Windows only where llama.cpp applies them: Gemma 2 always, Gemma 3 when the file
        // gives a window; llama.cpp runs llama, qwen2, qwen3 and phi3 without one.
        json types = json::array();
        for (std::int64_t i = 0; i < layers; ++i)
            types.push_back("full_attention");
        if (arch == "gemma2") {
            c["sliding_window"] = integer("attention.sliding_window", 4096);
            types = layer_types(layers, 2);
        } else if (arch == "gemma3" && has("attention.sliding_window") &&
                   integer("attention.sliding_window") > 0) {
            c["sliding_window"] = integer("attention.sliding_window");
            types = layer_types(layers, 6);
            c["rope_local_base_freq"] = number("rope.freq_base_swa", 10000);
        }
        c["layer_types"] = types;
        if (arch.rfind("gemma", 0) == 0) {
            // llama.cpp scales queries by 1/√head_dim, or 1/√(hidden/heads) for the 27B models
            // (which it knows by their layer count), not by query_pre_attn_scalar.
            const bool big = (arch == "gemma2" && layers == 46) || (arch == "gemma3" && layers == 62);
            c["query_pre_attn_scalar"] = big ? d / heads : head_dim;
            c["attn_logit_softcapping"] =
                arch == "gemma2" ? json(number("attn_logit_softcapping", 50)) : json(nullptr);
            const double final_cap = number("final_logit_softcapping", arch == "gemma2" ? 30 : 0);
            c["final_logit_softcapping"] = final_cap > 0 ? json(final_cap) : json(nullptr);
        }
        return c;
    }
};

}  // namespace

bool is_gguf_language_model(const Model& model) {
    return supported(architecture_of(model));
}

void require_gguf_engine_model(const Model& model) {
    const auto arch = architecture_of(model);
    if (model.file().format() != "gguf" || supported(arch))
        return;
    throw Error(model.file().path(), "GGUF metadata general.architecture",
                (arch.empty() ? std::string("is missing") : "\"" + arch + "\" is not supported") +
                    " by the engine (" + kSupported +
                    "), so the model-based metrics cannot run on it; the weights-only analysis works on "
                    "every model");
}

Graph gguf_graph(const Model& model, std::int64_t tokens, bool with_values) {
    require_gguf_engine_model(model);
    const auto arch = architecture_of(model);
    const auto& path = model.file().path();
    if (tokens < 2)
        throw Error(path, "calibration", "sequences need at least 2 tokens for a next-token loss");
    const Metadata metadata{model, arch};
    const auto has = [&](const std::string& tensor) {
        return hf::has_tensor(model, tensor);
    };
    const bool bias = has("blk.0.attn_q.bias") || has("blk.0.attn_output.bias");
    json config = metadata.config(bias && arch != "qwen2", has("blk.0.ffn_down.bias"));
    const auto& embedding = model.file().tensor("token_embd.weight");  // Error naming it when absent
    if (embedding.shape.size() != 2)
        throw Error(path, "token_embd.weight", "must be a matrix [vocabulary, hidden]");
    config["vocab_size"] = embedding.shape[0];
    config["tie_word_embeddings"] = !has("output.weight");
    const bool gemma = arch.rfind("gemma", 0) == 0;
    hf::Builder builder{model, config, path, {}};
    builder.read_values = with_values;
    builder.scope = "GGUF metadata (as config.json)";
    builder.graph.input.dims = {tokens};
    builder.graph.next_token = true;
    builder.norm_weights_include_one = gemma;  // llama.cpp's converter adds the 1 of (1 + γ)
    builder.rename = [gemma](const std::string& hf) {
        return llama_cpp_layer(hf, gemma);
    };
    if (arch == "llama") {
        // llama.cpp rotates adjacent pairs, so its converter interleaved each head's rotary
        // halves; put the rows back to rotate halves as Hugging Face does
        const auto heads = config["num_attention_heads"].get<std::int64_t>(),
                   kv_heads = config["num_key_value_heads"].get<std::int64_t>();
        static const std::regex qk(R"(blk\.\d+\.attn_(q|k)\.(weight|bias))");
        builder.rotary_heads = [heads, kv_heads](const std::string& tensor) -> std::int64_t {
            std::smatch match;
            if (!std::regex_match(tensor, match, qk))
                return 0;
            return match[1] == "q" ? heads : kv_heads;
        };
    }
    try {
        hf::build_decoder(builder, config["model_type"].get<std::string>());
    } catch (const nlohmann::json::exception& error) {
        throw Error(path, "GGUF metadata", std::string("malformed: ") + error.what());
    }
    if (has("rope_freqs.weight")) {  // Llama 3.1: llama.cpp divides each frequency by its factor
        const auto& info = model.file().tensor("rope_freqs.weight");
        const auto factors = model.file().read_f32(info);
        for (auto& node : builder.graph.nodes) {
            if (node.kind != OpKind::Attention)
                continue;
            if (factors.values().size() != node.rope_inv_freq.size())
                throw Error(path, "rope_freqs.weight",
                            std::to_string(factors.values().size()) + " factors for " +
                                std::to_string(node.rope_inv_freq.size()) + " rotary frequencies");
            for (std::size_t i = 0; i < node.rope_inv_freq.size(); ++i) {
                const double factor = factors.values()[i];
                if (!(factor > 0) || !std::isfinite(factor))
                    throw Error(path, "rope_freqs.weight",
                                "factor " + std::to_string(i) + " is not positive");
                node.rope_inv_freq[i] /= factor;
            }
        }
    }
    builder.graph.vocabulary = builder.graph.nodes[static_cast<std::size_t>(builder.graph.output)].out.last();
    return builder.graph;
}

}  // namespace quantlens::nn

// The decoder-only families that share LLaMA's shape (embedding, N blocks of attention and a
// gated MLP between RMSNorms, final norm, head) and differ in the details transformers'
// modeling files give them. What each family adds is in `Family` below; docs/sensitivity.md
// lists them with their sources.
#include <cmath>
#include <string>
#include <vector>

#include "nn/hf_builder.hpp"
#include "nn/rope.hpp"

namespace quantlens::nn::hf {

const char* const decoder_families = "llama, mistral, qwen2, qwen3, gemma2, gemma3, gemma3_text, phi3";

namespace {

struct Family {
    bool qkv_bias = false;         // qwen2: q, k and v projections carry biases (o does not)
    bool attention_bias = false;   // config.json attention_bias decides q, k, v and o (llama, qwen3, gemma)
    bool mlp_bias = false;         // llama: config.json mlp_bias
    bool qk_norm = false;          // qwen3, gemma3: an RMSNorm over each head of q and of k
    bool fused = false;            // phi3: qkv_proj and gate_up_proj
    bool gemma = false;            // (1 + γ) norms, √hidden embedding scale, norms after attention and MLP
    bool tied = false;             // tie_word_embeddings when config.json does not say
    std::int64_t head_dim = 0;     // head_dim when config.json does not say (0: hidden / heads)
    double rope_theta = 10000;     // rope_theta when config.json does not say
    double attention_softcap = 0;  // gemma2's defaults for the soft caps
    double final_softcap = 0;
    int sliding_every = 0;  // gemma2/3: layer i is local unless (i + 1) is a multiple of this
};

Family family_of(const std::string& type) {
    Family f;
    if (type == "llama") {
        f.attention_bias = f.mlp_bias = true;
    } else if (type == "qwen2") {
        f.qkv_bias = true;
    } else if (type == "qwen3") {
        f.attention_bias = f.qk_norm = true;
        f.head_dim = 128;
    } else if (type == "gemma2") {
        f.gemma = f.tied = f.attention_bias = true;
        f.head_dim = 256;
        f.attention_softcap = 50;
        f.final_softcap = 30;
        f.sliding_every = 2;
    } else if (type == "gemma3_text" || type == "gemma3") {
        f.gemma = f.tied = f.qk_norm = f.attention_bias = true;
        f.head_dim = 256;
        f.rope_theta = 1e6;
        f.sliding_every = 6;
    } else if (type == "phi3") {
        f.fused = true;
    }
    return f;
}

struct Decoder {
    Builder& b;
    const std::string& type;
    Family family;
    std::string root = "model.";  // where the decoder's tensors live
    std::int64_t d = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0, vocabulary = 0;
    double epsilon = 1e-6;

    ActivationKind activation() const {
        const char* key =
            family.gemma && b.config.contains("hidden_activation") ? "hidden_activation" : "hidden_act";
        const auto name = b.config.value(key, std::string(family.gemma ? "gelu_pytorch_tanh" : "silu"));
        if (name == "silu" || name == "swish")
            return ActivationKind::Swish;
        if (name == "gelu_pytorch_tanh" || name == "gelu_new")
            return ActivationKind::GeluTanh;
        if (name == "gelu")
            return ActivationKind::Gelu;
        b.fail(key, "\"" + name + "\" is not supported (silu, gelu, gelu_pytorch_tanh)");
    }

    // A cap from config.json: its default when absent, none when null.
    double cap(const char* key, double fallback) const {
        if (!b.config.contains(key))
            return fallback;
        return b.config[key].is_null() ? 0 : b.number(key, fallback);
    }

    // Which layers attend within a window: config.json layer_types when given, else the
    // family's rule as its configuration class computes layer_types.
    std::vector<bool> sliding_layers(std::int64_t layers) const {
        std::vector<bool> sliding(static_cast<std::size_t>(layers), false);
        if (b.config.contains("layer_types") && !b.config["layer_types"].is_null()) {
            const auto& types = b.config["layer_types"];
            if (!types.is_array() || static_cast<std::int64_t>(types.size()) != layers)
                b.fail("layer_types", "must list one type per layer");
            for (std::size_t i = 0; i < sliding.size(); ++i) {
                const auto kind = types[i].is_string() ? types[i].get<std::string>() : "";
                if (kind != "sliding_attention" && kind != "full_attention")
                    b.fail("layer_types[" + std::to_string(i) + "]",
                           "must be \"sliding_attention\" or \"full_attention\"");
                sliding[i] = kind == "sliding_attention";
            }
            return sliding;
        }
        const bool windowed = b.config.contains("sliding_window") && !b.config["sliding_window"].is_null();
        for (std::int64_t i = 0; i < layers; ++i) {
            const auto at = static_cast<std::size_t>(i);
            if (type == "mistral" || type == "phi3")
                sliding[at] = windowed;
            else if (type == "qwen2" || type == "qwen3")
                sliding[at] =
                    b.config.value("use_sliding_window", false) && i >= b.integer("max_window_layers", 28);
            else if (family.sliding_every)
                sliding[at] = (i + 1) % b.integer("sliding_window_pattern", family.sliding_every) != 0;
        }
        return sliding;
    }

    // The rope description of a layer type, in the newer dialect's shape whichever the file uses.
    RotaryParameters rope(bool sliding, std::int64_t positions) const {
        json parameters = json::object();
        std::string field = b.scope + " rope_scaling";
        if (b.config.contains("rope_parameters") && !b.config["rope_parameters"].is_null()) {
            const auto& all = b.config["rope_parameters"];
            const char* kind = sliding ? "sliding_attention" : "full_attention";
            field = b.scope + " rope_parameters";
            if (all.is_object() && all.contains(kind) && all[kind].is_object()) {
                parameters = all[kind];
                field += std::string(".") + kind;
            } else {
                parameters = all;
            }
        } else {
            if (b.config.contains("rope_scaling") && !b.config["rope_scaling"].is_null())
                parameters = b.config["rope_scaling"];
            if (!parameters.is_object())
                b.fail("rope_scaling", "must be an object");
            if (sliding && family.gemma && type != "gemma2") {
                // Gemma 3's local layers: plain rotary embeddings at rope_local_base_freq
                parameters = {{"rope_type", "default"},
                              {"rope_theta", b.number("rope_local_base_freq", 10000)}};
                field = b.scope + " rope_local_base_freq";
            }
        }
        if (!parameters.contains("rope_theta"))
            parameters["rope_theta"] = b.number("rope_theta", family.rope_theta);
        if (!parameters.contains("partial_rotary_factor") && b.config.contains("partial_rotary_factor"))
            parameters["partial_rotary_factor"] = b.config["partial_rotary_factor"];
        return rotary_parameters(parameters, static_cast<int>(head_dim), positions, b.path, field);
    }

    int slice(const std::string& layer, const std::string& part, int input, std::int64_t offset) {
        auto n = b.node(OpKind::Slice, layer + "/" + part, layer, {input},
                        {{b.graph.input.dims[0], intermediate}});
        n.slice_offset = offset;
        return b.push(std::move(n));
    }

    int attention(const std::string& p, int input, bool sliding, const RotaryParameters& rotary,
                  std::int64_t window, double softcap) {
        const bool bias =
            family.qkv_bias || (family.attention_bias && b.config.value("attention_bias", false));
        const auto q_width = heads * head_dim, kv_width = kv_heads * head_dim;
        std::vector<int> inputs;
        if (family.fused) {
            inputs = {b.linear(p + "self_attn.qkv_proj", input, d, q_width + 2 * kv_width, true, false)};
        } else {
            int q = b.linear(p + "self_attn.q_proj", input, d, q_width, true, bias);
            int k = b.linear(p + "self_attn.k_proj", input, d, kv_width, true, bias);
            const int v = b.linear(p + "self_attn.v_proj", input, d, kv_width, true, bias);
            if (family.qk_norm) {
                q = b.norm(OpKind::RMSNorm, p + "self_attn.q_norm", q, head_dim, epsilon, heads);
                k = b.norm(OpKind::RMSNorm, p + "self_attn.k_norm", k, head_dim, epsilon, kv_heads);
            }
            inputs = {q, k, v};
        }
        auto n = b.node(OpKind::Attention, p + "self_attn", p + "self_attn", inputs,
                        {{b.graph.input.dims[0], q_width}});
        n.heads = static_cast<int>(heads);
        n.kv_heads = static_cast<int>(kv_heads);
        n.head_dim = static_cast<int>(head_dim);
        n.rope_inv_freq = rotary.inv_freq;
        n.rope_factor = rotary.factor;
        n.sliding_window = sliding ? static_cast<int>(window) : 0;
        n.softcap = softcap;
        if (family.gemma)
            n.attention_scale =
                1 / std::sqrt(b.number("query_pre_attn_scalar", static_cast<double>(head_dim)));
        const int attn = b.push(std::move(n));
        const bool o_bias = family.attention_bias && b.config.value("attention_bias", false);
        return b.linear(p + "self_attn.o_proj", attn, q_width, d, true, o_bias);
    }

    int mlp(const std::string& p, int input, ActivationKind act) {
        const bool bias = family.mlp_bias && b.config.value("mlp_bias", false);
        int gate = 0, up = 0;
        std::string gate_layer = p + "mlp.gate_proj";
        if (family.fused) {
            gate_layer = p + "mlp.gate_up_proj";
            const int both = b.linear(gate_layer, input, d, 2 * intermediate, true, bias);
            gate = slice(b.file_layer(gate_layer), "gate", both, 0);  // transformers' chunk(2): gate first
            up = slice(b.file_layer(gate_layer), "up", both, intermediate);
        } else {
            gate = b.linear(gate_layer, input, d, intermediate, true, bias);
            up = b.linear(p + "mlp.up_proj", input, d, intermediate, true, bias);
        }
        const int product =
            b.binary(OpKind::Mul, p + "mlp/gate*up", p + "mlp", b.activation(gate_layer, gate, act), up);
        return b.linear(p + "mlp.down_proj", product, intermediate, d, true, bias);
    }

    void build() {
        d = b.integer("hidden_size");
        heads = b.integer("num_attention_heads");
        kv_heads = b.integer("num_key_value_heads", heads);
        intermediate = b.integer("intermediate_size");
        vocabulary = b.integer("vocab_size");
        head_dim = b.integer("head_dim", family.head_dim ? family.head_dim : d / heads);
        const auto layers = b.integer("num_hidden_layers"),
                   positions = b.integer("max_position_embeddings", 2048);
        epsilon = b.number("rms_norm_eps", 1e-6);
        if (heads % kv_heads)
            b.fail("num_key_value_heads", "does not divide num_attention_heads");
        if (head_dim % 2)
            b.fail("head_dim", "must be even for rotary embeddings");
        b.check_positions(positions);
        b.gamma_offset = family.gemma && !b.norm_weights_include_one ? 1.0 : 0.0;
        const auto act = activation();
        const auto sliding = sliding_layers(layers);
        std::int64_t window = 0;
        for (bool s : sliding)
            if (s)
                window = b.integer("sliding_window", family.gemma ? 4096 : -1);
        const RotaryParameters global = rope(false, positions);
        const RotaryParameters local = window ? rope(true, positions) : global;
        const double attention_softcap = cap("attn_logit_softcapping", family.attention_softcap);
        const auto tokens = b.graph.input.dims[0];
        const auto embed_layer = b.file_layer(root + "embed_tokens");
        auto embed = b.node(OpKind::Embedding, embed_layer, embed_layer, {-1}, {{tokens, d}});
        if (family.gemma)
            embed.embedding_scale = std::sqrt(static_cast<double>(d));
        b.add_slot(embed, "weight", embed_layer + ".weight", {vocabulary, d});
        const int embedding = b.push(std::move(embed));
        int h = embedding;
        for (std::int64_t i = 0; i < layers; ++i) {
            const std::string p = root + "layers." + std::to_string(i) + ".";
            const bool s = sliding[static_cast<std::size_t>(i)];
            const int in_norm = b.norm(OpKind::RMSNorm, p + "input_layernorm", h, d, epsilon);
            int attn = attention(p, in_norm, s, s ? local : global, window, attention_softcap);
            if (family.gemma)
                attn = b.norm(OpKind::RMSNorm, p + "post_attention_layernorm", attn, d, epsilon);
            const int mid = b.binary(OpKind::Add, p + "self_attn/residual", p + "self_attn", h, attn);
            const auto mlp_norm =
                p + (family.gemma ? "pre_feedforward_layernorm" : "post_attention_layernorm");
            int down = mlp(p, b.norm(OpKind::RMSNorm, mlp_norm, mid, d, epsilon), act);
            if (family.gemma)
                down = b.norm(OpKind::RMSNorm, p + "post_feedforward_layernorm", down, d, epsilon);
            h = b.binary(OpKind::Add, p + "mlp/residual", p + "mlp", mid, down);
        }
        const int final_norm = b.norm(OpKind::RMSNorm, root + "norm", h, d, epsilon);
        b.head(final_norm, d, vocabulary, embedding,
               b.config.value("tie_word_embeddings", family.tied) ||
                   !b.has(b.file_layer("lm_head") + ".weight"));
        if (const double softcap = cap("final_logit_softcapping", family.final_softcap); softcap > 0) {
            const auto& logits = b.graph.nodes[static_cast<std::size_t>(b.graph.output)];
            auto n = b.node(OpKind::Activation, logits.name + "/softcap", logits.layer, {b.graph.output},
                            logits.out);
            n.activation = ActivationKind::SoftCap;
            n.softcap = softcap;
            b.graph.output = b.push(std::move(n));
        }
    }
};

}  // namespace

bool is_decoder_family(const std::string& type) {
    return type == "llama" || type == "mistral" || type == "qwen2" || type == "qwen3" || type == "gemma2" ||
           type == "gemma3" || type == "gemma3_text" || type == "phi3";
}

void build_decoder(Builder& builder, const std::string& type) {
    if (type != "gemma3") {
        Decoder{builder, type, family_of(type)}.build();
        return;
    }
    // Gemma 3's multimodal checkpoints: the language model's config is text_config, its tensors
    // under language_model.model. (or model.language_model. in newer saves); the head is tied.
    if (!builder.config.contains("text_config") || !builder.config["text_config"].is_object())
        builder.fail("text_config", "is missing: gemma3 keeps the language model's config there");
    Builder text{builder.model, builder.config["text_config"], builder.path, std::move(builder.graph)};
    text.scope = builder.scope + " text_config";
    Decoder decoder{text, type, family_of(type)};
    decoder.root = text.has("model.language_model.embed_tokens.weight") ? "model.language_model."
                                                                        : "language_model.model.";
    decoder.build();
    builder.graph = std::move(text.graph);
}

}  // namespace quantlens::nn::hf

#include "nn/hf_graph.hpp"

#include <string>

#include "nn/keras_graph.hpp"
#include "util/error.hpp"

namespace quantlens::nn {

namespace {

using json = nlohmann::json;

struct Builder {
    const Model& model;
    const json& config;
    const std::string& path;
    Graph graph;

    [[noreturn]] void fail(const std::string& field, const std::string& message) const {
        throw Error(path, "config.json " + field, message);
    }

    std::int64_t integer(const char* key, std::int64_t fallback = -1) const {
        if (!config.contains(key) || config[key].is_null()) {
            if (fallback < 0)
                fail(key, "is missing");
            return fallback;
        }
        if (!config[key].is_number_integer() || config[key].get<std::int64_t>() < 1 ||
            config[key].get<std::int64_t>() > (1 << 24))
            fail(key, "must be a positive integer");
        return config[key].get<std::int64_t>();
    }
    double number(const char* key, double fallback) const {
        if (!config.contains(key) || config[key].is_null())
            return fallback;
        if (!config[key].is_number() || !(config[key].get<double>() > 0))
            fail(key, "must be a positive number");
        return config[key].get<double>();
    }

    void add_slot(Node& node, const char* name, const std::string& tensor,
                  const std::vector<std::int64_t>& shape) {
        const auto& info = model.file().tensor(tensor);  // Error naming the tensor when absent
        if (info.shape != shape)
            throw Error(path, tensor,
                        "shape " + quantlens::shape_text(info.shape) + " where the config needs " +
                            quantlens::shape_text(shape));
        const auto values = model.file().read_f32(info);
        node.parameters.push_back({name, tensor, shape, graph.parameters.size(), values.values().size()});
        graph.parameters.insert(graph.parameters.end(), values.values().begin(), values.values().end());
    }
    bool has(const std::string& tensor) const {
        for (const auto& info : model.file().tensors())
            if (info.name == tensor)
                return true;
        return false;
    }

    int push(Node node) {
        graph.nodes.push_back(std::move(node));
        return static_cast<int>(graph.nodes.size()) - 1;
    }
    Node node(OpKind kind, const std::string& name, const std::string& layer, std::vector<int> inputs,
              Shape out) const {
        Node n;
        n.kind = kind;
        n.name = name;
        n.layer = layer;
        n.inputs = std::move(inputs);
        n.in =
            n.inputs.front() < 0 ? graph.input : graph.nodes[static_cast<std::size_t>(n.inputs.front())].out;
        n.out = std::move(out);
        return n;
    }
    int linear(const std::string& layer, int input, std::int64_t in, std::int64_t out, bool stored_out_in,
               bool bias) {
        auto n = node(OpKind::Dense, layer, layer, {input}, {{graph.input.dims[0], out}});
        n.transposed = stored_out_in;
        add_slot(n, "kernel", layer + ".weight",
                 stored_out_in ? std::vector<std::int64_t>{out, in} : std::vector<std::int64_t>{in, out});
        if (bias)
            add_slot(n, "bias", layer + ".bias", {out});
        return push(std::move(n));
    }
    int norm(OpKind kind, const std::string& layer, int input, std::int64_t d, double epsilon) {
        auto n = node(kind, layer, layer, {input}, {{graph.input.dims[0], d}});
        n.epsilon = epsilon;
        add_slot(n, "gamma", layer + ".weight", {d});
        if (kind == OpKind::LayerNorm)
            add_slot(n, "beta", layer + ".bias", {d});
        return push(std::move(n));
    }
    int activation(const std::string& layer, int input, ActivationKind kind) {
        auto n = node(OpKind::Activation, layer + "/" + activation_name(kind), layer, {input},
                      graph.nodes[static_cast<std::size_t>(input)].out);
        n.activation = kind;
        return push(std::move(n));
    }
    int binary(OpKind kind, const std::string& name, const std::string& layer, int a, int b) {
        return push(node(kind, name, layer, {a, b}, graph.nodes[static_cast<std::size_t>(a)].out));
    }
    // The head: logits = h·Eᵀ with the embedding's own slot (tied), or lm_head.weight [vocab, d].
    void head(int input, std::int64_t d, std::int64_t vocabulary, int embedding, bool tied) {
        auto n = node(OpKind::Dense, "lm_head",
                      tied ? graph.nodes[static_cast<std::size_t>(embedding)].layer : "lm_head", {input},
                      {{graph.input.dims[0], vocabulary}});
        n.transposed = true;
        if (tied) {
            n.parameters = graph.nodes[static_cast<std::size_t>(embedding)].parameters;
            n.parameters.front().name = "kernel";
        } else {
            add_slot(n, "kernel", "lm_head.weight", {vocabulary, d});
        }
        graph.output = push(std::move(n));
    }

    void gpt2() {
        const auto d = integer("n_embd"), layers = integer("n_layer"), heads = integer("n_head"),
                   positions = integer("n_positions", 1024), vocabulary = integer("vocab_size");
        const double epsilon = number("layer_norm_epsilon", 1e-5);
        const auto act = config.value("activation_function", std::string("gelu_new"));
        if (act != "gelu_new")
            fail("activation_function", "\"" + act + "\" is not supported (gelu_new)");
        if (config.contains("n_inner") && !config["n_inner"].is_null())
            fail("n_inner", "other than 4·n_embd is not supported");
        if (d % heads)
            fail("n_head", "does not divide n_embd");
        if (graph.input.dims[0] > positions)
            throw Error(path, "calibration",
                        std::to_string(graph.input.dims[0]) + " tokens per sample, the model has " +
                            std::to_string(positions) + " positions");
        const auto tokens = graph.input.dims[0];
        auto wte = node(OpKind::Embedding, "transformer.wte", "transformer.wte", {-1}, {{tokens, d}});
        add_slot(wte, "weight", "transformer.wte.weight", {vocabulary, d});
        const int embedding = push(std::move(wte));
        auto wpe =
            node(OpKind::PositionEmbedding, "transformer.wpe", "transformer.wpe", {embedding}, {{tokens, d}});
        add_slot(wpe, "weight", "transformer.wpe.weight", {positions, d});
        int h = push(std::move(wpe));
        for (std::int64_t i = 0; i < layers; ++i) {
            const std::string p = "transformer.h." + std::to_string(i) + ".";
            const int ln1 = norm(OpKind::LayerNorm, p + "ln_1", h, d, epsilon);
            const int qkv = linear(p + "attn.c_attn", ln1, d, 3 * d, false, true);
            auto attention = node(OpKind::Attention, p + "attn", p + "attn", {qkv}, {{tokens, d}});
            attention.heads = attention.kv_heads = static_cast<int>(heads);
            attention.head_dim = static_cast<int>(d / heads);
            const int attn = push(std::move(attention));
            const int proj = linear(p + "attn.c_proj", attn, d, d, false, true);
            const int mid = binary(OpKind::Add, p + "attn/residual", p + "attn", h, proj);
            const int ln2 = norm(OpKind::LayerNorm, p + "ln_2", mid, d, epsilon);
            const int fc = activation(p + "mlp.c_fc", linear(p + "mlp.c_fc", ln2, d, 4 * d, false, true),
                                      ActivationKind::GeluTanh);
            const int down = linear(p + "mlp.c_proj", fc, 4 * d, d, false, true);
            h = binary(OpKind::Add, p + "mlp/residual", p + "mlp", mid, down);
        }
        const int final_norm = norm(OpKind::LayerNorm, "transformer.ln_f", h, d, epsilon);
        const bool tied = config.value("tie_word_embeddings", true) || !has("lm_head.weight");
        head(final_norm, d, vocabulary, embedding, tied);
    }

    void llama() {
        const auto d = integer("hidden_size"), layers = integer("num_hidden_layers"),
                   heads = integer("num_attention_heads"), vocabulary = integer("vocab_size");
        const auto kv_heads = integer("num_key_value_heads", heads),
                   intermediate = integer("intermediate_size"),
                   positions = integer("max_position_embeddings", 2048);
        const auto head_dim = integer("head_dim", d / heads);
        const double epsilon = number("rms_norm_eps", 1e-6), theta = number("rope_theta", 10000.0);
        if (config.contains("rope_scaling") && !config["rope_scaling"].is_null())
            fail("rope_scaling", "is not supported (plain rotary embeddings only)");
        const auto act = config.value("hidden_act", std::string("silu"));
        if (act != "silu")
            fail("hidden_act", "\"" + act + "\" is not supported (silu)");
        if (heads % kv_heads)
            fail("num_key_value_heads", "does not divide num_attention_heads");
        if (head_dim % 2)
            fail("head_dim", "must be even for rotary embeddings");
        if (graph.input.dims[0] > positions)
            throw Error(path, "calibration",
                        std::to_string(graph.input.dims[0]) + " tokens per sample, the model has " +
                            std::to_string(positions) + " positions");
        const bool bias = config.value("attention_bias", false), mlp_bias = config.value("mlp_bias", false);
        const auto tokens = graph.input.dims[0];
        auto embed = node(OpKind::Embedding, "model.embed_tokens", "model.embed_tokens", {-1}, {{tokens, d}});
        add_slot(embed, "weight", "model.embed_tokens.weight", {vocabulary, d});
        const int embedding = push(std::move(embed));
        int h = embedding;
        for (std::int64_t i = 0; i < layers; ++i) {
            const std::string p = "model.layers." + std::to_string(i) + ".";
            const int in_norm = norm(OpKind::RMSNorm, p + "input_layernorm", h, d, epsilon);
            const int q = linear(p + "self_attn.q_proj", in_norm, d, heads * head_dim, true, bias);
            const int k = linear(p + "self_attn.k_proj", in_norm, d, kv_heads * head_dim, true, bias);
            const int v = linear(p + "self_attn.v_proj", in_norm, d, kv_heads * head_dim, true, bias);
            auto attention = node(OpKind::Attention, p + "self_attn", p + "self_attn", {q, k, v},
                                  {{tokens, heads * head_dim}});
            attention.heads = static_cast<int>(heads);
            attention.kv_heads = static_cast<int>(kv_heads);
            attention.head_dim = static_cast<int>(head_dim);
            attention.rope_theta = theta;
            const int attn = push(std::move(attention));
            const int o = linear(p + "self_attn.o_proj", attn, heads * head_dim, d, true, bias);
            const int mid = binary(OpKind::Add, p + "self_attn/residual", p + "self_attn", h, o);
            const int post = norm(OpKind::RMSNorm, p + "post_attention_layernorm", mid, d, epsilon);
            const int gate = activation(p + "mlp.gate_proj",
                                        linear(p + "mlp.gate_proj", post, d, intermediate, true, mlp_bias),
                                        ActivationKind::Swish);
            const int up = linear(p + "mlp.up_proj", post, d, intermediate, true, mlp_bias);
            const int product = binary(OpKind::Mul, p + "mlp/gate*up", p + "mlp", gate, up);
            const int down = linear(p + "mlp.down_proj", product, intermediate, d, true, mlp_bias);
            h = binary(OpKind::Add, p + "mlp/residual", p + "mlp", mid, down);
        }
        const int final_norm = norm(OpKind::RMSNorm, "model.norm", h, d, epsilon);
        head(final_norm, d, vocabulary, embedding,
             config.value("tie_word_embeddings", false) || !has("lm_head.weight"));
    }
};

}  // namespace

bool is_language_model(const Model& model) {
    const auto& config = model.file().config();
    if (!config.is_object() || !config.contains("model_type") || !config["model_type"].is_string())
        return false;
    const auto type = config["model_type"].get<std::string>();
    return type == "gpt2" || type == "llama";
}

void require_engine_model(const Model& model) {
    const auto& config = model.file().config();
    if (!config.is_object() || !config.contains("model_type"))
        return;  // a Keras file, or a folder without a config: the graph builder says what it lacks
    if (!config["model_type"].is_string())
        throw Error(model.file().path(), "config.json model_type", "must be a string");
    if (!is_language_model(model))
        throw Error(model.file().path(), "config.json model_type",
                    "\"" + config["model_type"].get<std::string>() +
                        "\" is not supported by the engine (gpt2, llama), so the model-based metrics "
                        "cannot run on it; the weights-only analysis works on every model");
}

Graph hf_graph(const Model& model, std::int64_t tokens) {
    const auto& config = model.file().config();
    const auto& path = model.file().path();
    if (!config.is_object() || !config.contains("model_type") || !config["model_type"].is_string())
        throw Error(path, "config.json model_type",
                    "missing: the engine builds Hugging Face models from their config.json");
    if (tokens < 2)
        throw Error(path, "calibration", "sequences need at least 2 tokens for a next-token loss");
    Builder builder{model, config, path, {}};
    builder.graph.input.dims = {tokens};
    builder.graph.next_token = true;
    try {
        const auto type = config["model_type"].get<std::string>();
        if (type == "gpt2")
            builder.gpt2();
        else if (type == "llama")
            builder.llama();
        else
            throw Error(path, "config.json model_type",
                        "\"" + type + "\" is not supported by the engine (gpt2, llama)");
    } catch (const nlohmann::json::exception& error) {
        throw Error(path, "config.json", std::string("malformed: ") + error.what());
    }
    builder.graph.vocabulary = builder.graph.nodes[static_cast<std::size_t>(builder.graph.output)].out.last();
    return builder.graph;
}

Graph model_graph(const Model& model, std::int64_t tokens) {
    const auto& config = model.file().config();
    if (config.is_object() && config.contains("model_type"))
        return hf_graph(model, tokens);
    return keras_graph(model);
}

}  // namespace quantlens::nn

#include "nn/hf_graph.hpp"

#include <string>

#include "nn/gguf_graph.hpp"
#include "nn/hf_builder.hpp"
#include "nn/keras_graph.hpp"
#include "util/error.hpp"

namespace quantlens::nn {

namespace {

using hf::Builder;

void gpt2(Builder& b) {
    const auto d = b.integer("n_embd"), layers = b.integer("n_layer"), heads = b.integer("n_head"),
               positions = b.integer("n_positions", 1024), vocabulary = b.integer("vocab_size");
    const double epsilon = b.number("layer_norm_epsilon", 1e-5);
    const auto act = b.config.value("activation_function", std::string("gelu_new"));
    if (act != "gelu_new")
        b.fail("activation_function", "\"" + act + "\" is not supported (gelu_new)");
    if (b.config.contains("n_inner") && !b.config["n_inner"].is_null())
        b.fail("n_inner", "other than 4·n_embd is not supported");
    if (d % heads)
        b.fail("n_head", "does not divide n_embd");
    b.check_positions(positions);
    const auto tokens = b.graph.input.dims[0];
    auto wte = b.node(OpKind::Embedding, "transformer.wte", "transformer.wte", {-1}, {{tokens, d}});
    b.add_slot(wte, "weight", "transformer.wte.weight", {vocabulary, d});
    const int embedding = b.push(std::move(wte));
    auto wpe =
        b.node(OpKind::PositionEmbedding, "transformer.wpe", "transformer.wpe", {embedding}, {{tokens, d}});
    b.add_slot(wpe, "weight", "transformer.wpe.weight", {positions, d});
    int h = b.push(std::move(wpe));
    for (std::int64_t i = 0; i < layers; ++i) {
        const std::string p = "transformer.h." + std::to_string(i) + ".";
        const int ln1 = b.norm(OpKind::LayerNorm, p + "ln_1", h, d, epsilon);
        const int qkv = b.linear(p + "attn.c_attn", ln1, d, 3 * d, false, true);
        auto attention = b.node(OpKind::Attention, p + "attn", p + "attn", {qkv}, {{tokens, d}});
        attention.heads = attention.kv_heads = static_cast<int>(heads);
        attention.head_dim = static_cast<int>(d / heads);
        const int attn = b.push(std::move(attention));
        const int proj = b.linear(p + "attn.c_proj", attn, d, d, false, true);
        const int mid = b.binary(OpKind::Add, p + "attn/residual", p + "attn", h, proj);
        const int ln2 = b.norm(OpKind::LayerNorm, p + "ln_2", mid, d, epsilon);
        const int fc = b.activation(p + "mlp.c_fc", b.linear(p + "mlp.c_fc", ln2, d, 4 * d, false, true),
                                    ActivationKind::GeluTanh);
        const int down = b.linear(p + "mlp.c_proj", fc, 4 * d, d, false, true);
        h = b.binary(OpKind::Add, p + "mlp/residual", p + "mlp", mid, down);
    }
    const int final_norm = b.norm(OpKind::LayerNorm, "transformer.ln_f", h, d, epsilon);
    const bool tied = b.config.value("tie_word_embeddings", true) || !b.has("lm_head.weight");
    b.head(final_norm, d, vocabulary, embedding, tied);
}

std::string supported_types() {
    return std::string("gpt2, ") + hf::decoder_families;
}

}  // namespace

bool is_language_model(const Model& model) {
    if (model.file().format() == "gguf")
        return is_gguf_language_model(model);
    const auto& config = model.file().config();
    if (!config.is_object() || !config.contains("model_type") || !config["model_type"].is_string())
        return false;
    const auto type = config["model_type"].get<std::string>();
    return type == "gpt2" || hf::is_decoder_family(type);
}

void require_engine_model(const Model& model) {
    if (model.file().format() == "gguf")
        return require_gguf_engine_model(model);
    const auto& config = model.file().config();
    if (!config.is_object() || !config.contains("model_type"))
        return;  // a Keras file, or a folder without a config: the graph builder says what it lacks
    if (!config["model_type"].is_string())
        throw Error(model.file().path(), "config.json model_type", "must be a string");
    if (!is_language_model(model))
        throw Error(model.file().path(), "config.json model_type",
                    "\"" + config["model_type"].get<std::string>() + "\" is not supported by the engine (" +
                        supported_types() +
                        "), so the model-based metrics "
                        "cannot run on it; the weights-only analysis works on every model");
}

Graph hf_graph(const Model& model, std::int64_t tokens, bool with_values) {
    const auto& config = model.file().config();
    const auto& path = model.file().path();
    if (!config.is_object() || !config.contains("model_type") || !config["model_type"].is_string())
        throw Error(path, "config.json model_type",
                    "missing: the engine builds Hugging Face models from their config.json");
    if (tokens < 2)
        throw Error(path, "calibration", "sequences need at least 2 tokens for a next-token loss");
    Builder builder{model, config, path, {}};
    builder.read_values = with_values;
    builder.graph.input.dims = {tokens};
    builder.graph.next_token = true;
    try {
        const auto type = config["model_type"].get<std::string>();
        if (type == "gpt2")
            gpt2(builder);
        else if (hf::is_decoder_family(type))
            hf::build_decoder(builder, type);
        else
            throw Error(path, "config.json model_type",
                        "\"" + type + "\" is not supported by the engine (" + supported_types() + ")");
    } catch (const nlohmann::json::exception& error) {
        throw Error(path, "config.json", std::string("malformed: ") + error.what());
    }
    builder.graph.vocabulary = builder.graph.nodes[static_cast<std::size_t>(builder.graph.output)].out.last();
    return builder.graph;
}

Graph model_graph(const Model& model, std::int64_t tokens, bool with_values) {
    if (model.file().format() == "gguf")
        return gguf_graph(model, tokens, with_values);
    const auto& config = model.file().config();
    if (config.is_object() && config.contains("model_type"))
        return hf_graph(model, tokens, with_values);
    return keras_graph(model);  // classifiers, small enough to read whole
}

}  // namespace quantlens::nn

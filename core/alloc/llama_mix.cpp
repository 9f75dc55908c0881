#include "alloc/llama_mix.hpp"

#include <cctype>
#include <map>
#include <optional>

#include "model/llama_names.hpp"
#include "model/model_identity.hpp"
#include "quant/ggml_fallback.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

enum class Mix {
    Q2_K,
    Q3_K_S,
    Q3_K_M,
    Q3_K_L,
    Q4_K_S,
    Q4_K_M,
    Q5_K_S,
    Q5_K_M,
    Q6_K,
    IQ4_NL,
    IQ4_XS,
    TQ1_0,
    TQ2_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q2_K_S,
    IQ2_XXS,
    IQ2_XS,
    IQ2_S,
    IQ2_M,
    IQ3_XXS,
    IQ3_XS,
    IQ3_S,
    IQ3_M,
    IQ1_S,
    IQ1_M
};

struct MixEntry {
    const char* name;
    Mix mix;
    const char* default_type;  // llama_ftype_get_default_type, as a QuantLens spec
};

const MixEntry kMixes[] = {
    {"Q2_K", Mix::Q2_K, "q2_k"},
    {"Q3_K_S", Mix::Q3_K_S, "q3_k"},
    {"Q3_K_M", Mix::Q3_K_M, "q3_k"},
    {"Q3_K_L", Mix::Q3_K_L, "q3_k"},
    {"Q4_K_S", Mix::Q4_K_S, "q4_k"},
    {"Q4_K_M", Mix::Q4_K_M, "q4_k"},
    {"Q5_K_S", Mix::Q5_K_S, "q5_k"},
    {"Q5_K_M", Mix::Q5_K_M, "q5_k"},
    {"Q6_K", Mix::Q6_K, "q6_k"},
    {"IQ4_NL", Mix::IQ4_NL, "iq4_nl"},
    {"IQ4_XS", Mix::IQ4_XS, "iq4_xs"},
    {"TQ1_0", Mix::TQ1_0, "tq1_0"},
    {"TQ2_0", Mix::TQ2_0, "tq2_0"},
    {"Q4_0", Mix::Q4_0, "q4_0"},
    {"Q4_1", Mix::Q4_1, "q4_1"},
    {"Q5_0", Mix::Q5_0, "q5_0"},
    {"Q5_1", Mix::Q5_1, "q5_1"},
    {"Q8_0", Mix::Q8_0, "q8_0"},
    {"Q2_K_S", Mix::Q2_K_S, "q2_k"},
    {"IQ2_XXS", Mix::IQ2_XXS, "iq2_xxs"},
    {"IQ2_XS", Mix::IQ2_XS, "iq2_xs"},
    // llama-quantize's IQ2_S file type is made of IQ2_XS tensors, its IQ2_M of IQ2_S ones
    {"IQ2_S", Mix::IQ2_S, "iq2_xs"},
    {"IQ2_M", Mix::IQ2_M, "iq2_s"},
    {"IQ3_XXS", Mix::IQ3_XXS, "iq3_xxs"},
    {"IQ3_XS", Mix::IQ3_XS, "iq3_s"},
    {"IQ3_S", Mix::IQ3_S, "iq3_s"},
    {"IQ3_M", Mix::IQ3_M, "iq3_s"},
    {"IQ1_S", Mix::IQ1_S, "iq1_s"},
    {"IQ1_M", Mix::IQ1_M, "iq1_m"}};

// The very-low-bit mixes, whose rules for everything but the output and the embedding form one
// group of their own in llama-quantize.
bool low_bit_group(Mix mix) {
    return mix == Mix::IQ2_XXS || mix == Mix::IQ2_XS || mix == Mix::IQ1_S || mix == Mix::IQ2_S ||
           mix == Mix::IQ2_M || mix == Mix::IQ1_M;
}

// llama-quantize's broad tensor categories, by name.
enum class Category {
    Output,
    TokenEmbd,
    AttnQkv,
    AttnKvB,
    AttnV,
    AttnK,
    AttnQ,
    AttnOutput,
    FfnUp,
    FfnGate,
    FfnDown,
    Other
};

bool contains(const std::string& name, const char* part) {
    return name.find(part) != std::string::npos;
}

Category category_of(const std::string& name) {
    if (is_llama_output(name))
        return Category::Output;
    if (is_llama_token_embedding(name))
        return Category::TokenEmbd;
    const std::pair<const char*, Category> kParts[] = {{"attn_qkv.weight", Category::AttnQkv},
                                                       {"attn_kv_b.weight", Category::AttnKvB},
                                                       {"attn_v.weight", Category::AttnV},
                                                       {"attn_k.weight", Category::AttnK},
                                                       {"attn_q.weight", Category::AttnQ},
                                                       {"attn_output.weight", Category::AttnOutput},
                                                       {"ffn_up", Category::FfnUp},
                                                       {"ffn_gate", Category::FfnGate},
                                                       {"ffn_down", Category::FfnDown}};
    for (const auto& [part, category] : kParts)
        if (contains(name, part))
            return category;
    return Category::Other;
}

bool attn_v_like(Category c) {
    return c == Category::AttnV || c == Category::AttnQkv || c == Category::AttnKvB;
}

// What llama-quantize leaves as it is: 1-D tensors, names not ending in "weight", norms, expert
// routers and the small tables its list names.
bool quantized_by_llama(const std::string& name, std::size_t dims) {
    if (dims < 2 || name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0)
        return false;
    for (const char* skipped :
         {"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
          "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
          "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
          "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight"})
        if (contains(name, skipped))
            return false;
    return name != "position_embd.weight" && name != "token_types.weight";
}

// The model's hyper-parameters the rules read, from GGUF metadata or config.json.
struct Hparams {
    std::string arch;
    long heads = 0, kv_heads = 0, layers = 0, experts = 0;
    long gqa() const { return kv_heads > 0 ? heads / kv_heads : 1; }
    bool is_70b() const { return arch == "llama" && layers == 80 && heads != kv_heads; }
};

long number_of(const nlohmann::json& object, const std::string& key) {
    const auto found = object.find(key);
    if (found == object.end())
        return 0;
    if (found->is_number_integer())
        return found->get<long>();
    if (found->is_array() && !found->empty() && found->front().is_number_integer())
        return found->front().get<long>();  // per-layer head counts: the first
    return 0;
}

Hparams hparams_of(const Model& model) {
    Hparams h;
    if (model.file().format() == "gguf") {
        const auto& meta = model.file().metadata();
        h.arch = meta.value("general.architecture", std::string());
        h.heads = number_of(meta, h.arch + ".attention.head_count");
        h.kv_heads = number_of(meta, h.arch + ".attention.head_count_kv");
        h.layers = number_of(meta, h.arch + ".block_count");
        h.experts = number_of(meta, h.arch + ".expert_count");
    } else {
        const auto& config = model.file().config();
        h.arch = config.value("model_type", std::string());
        h.heads = number_of(config, "num_attention_heads");
        h.kv_heads = number_of(config, "num_key_value_heads");
        h.layers = number_of(config, "num_hidden_layers");
        h.experts = number_of(config, "num_local_experts");
    }
    if (h.kv_heads == 0)
        h.kv_heads = h.heads;
    return h;
}

struct Counters {
    int attention_wv = 0, ffn_down = 0, ffn_gate = 0, ffn_up = 0;
    int n_attention_wv = 0, n_layers = 0;
};

bool more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

// llama_tensor_get_type_impl for the mixes above: `type` starts as the mix's default.
std::string mix_type(Mix mix, std::string type, Category category, std::int64_t row_length, const Hparams& h,
                     bool tied, bool with_imatrix, Counters& n) {
    const bool falcon = h.arch == "falcon";
    if (category == Category::Output || (tied && category == Category::TokenEmbd)) {
        const std::int64_t block = QuantSpec::parse(type).group_size;
        if (falcon || (block > 0 && row_length % block != 0))
            return "q8_0";
        if (low_bit_group(mix) || mix == Mix::IQ3_XXS)
            return "q5_k";
        return type != "q8_0" ? "q6_k" : type;
    }
    const bool iq2_s_or_m = mix == Mix::IQ2_S || mix == Mix::IQ2_M;
    if (category == Category::TokenEmbd) {
        if (mix == Mix::IQ2_XXS || mix == Mix::IQ2_XS || mix == Mix::IQ1_S || mix == Mix::IQ1_M)
            return "q2_k";
        if (iq2_s_or_m || mix == Mix::IQ3_XXS)
            return "iq3_s";
        return mix == Mix::TQ1_0 || mix == Mix::TQ2_0 ? "q4_k" : type;
    }
    if (low_bit_group(mix)) {
        if (attn_v_like(category)) {
            ++n.attention_wv;
            return h.gqa() >= 4 || h.experts >= 4 ? "q4_k" : iq2_s_or_m ? "iq3_s" : "q2_k";
        }
        if (h.experts == 8 && category == Category::AttnK)
            return "q4_k";
        if (category == Category::FfnDown)
            return n.ffn_down++ < n.n_layers / 8 ? (iq2_s_or_m ? "iq3_s" : "q2_k") : type;
        if (category == Category::AttnOutput) {
            if (h.experts == 8)
                return "q5_k";
            if (mix == Mix::IQ1_S || mix == Mix::IQ1_M)
                return "iq2_xxs";
            return iq2_s_or_m ? "iq3_s" : type;
        }
        return type;
    }
    if (attn_v_like(category)) {
        if (mix == Mix::Q2_K)
            type = h.gqa() >= 4 ? "q4_k" : "q3_k";
        else if (mix == Mix::Q2_K_S && h.gqa() >= 4)
            type = "q4_k";
        else if (mix == Mix::IQ3_XXS)
            type = h.gqa() >= 4 ? "q4_k" : !with_imatrix ? "iq3_s" : "iq3_xxs";
        else if ((mix == Mix::IQ3_XS || mix == Mix::IQ3_S) && h.gqa() >= 4)
            type = "q4_k";
        else if (mix == Mix::IQ3_M)
            type = "q4_k";
        else if (mix == Mix::Q3_K_M)
            type = n.attention_wv < 2 ? "q5_k" : "q4_k";
        else if (mix == Mix::Q3_K_L)
            type = "q5_k";
        else if ((mix == Mix::IQ4_NL || mix == Mix::IQ4_XS) && h.gqa() >= 4)
            type = "q5_k";
        else if ((mix == Mix::Q4_K_M || mix == Mix::Q5_K_M) && more_bits(n.attention_wv, n.n_attention_wv))
            type = "q6_k";
        else if (mix == Mix::Q4_K_S && n.attention_wv < 4)
            type = "q5_k";
        if (h.is_70b() && (type == "q3_k" || type == "q4_k"))
            type = "q5_k";
        if (h.experts == 8)
            type = "q8_0";
        ++n.attention_wv;
        return type;
    }
    if (category == Category::AttnK || category == Category::AttnQ) {
        if (category == Category::AttnK && h.experts == 8)
            return "q8_0";
        return mix == Mix::IQ3_XS ? "iq3_xxs" : mix == Mix::IQ3_XXS ? "iq2_s" : type;
    }
    if (category == Category::FfnDown) {
        const int i = n.ffn_down++, layers = n.n_layers;
        if (mix == Mix::Q2_K)
            return "q3_k";
        if (mix == Mix::Q2_K_S)
            return i < layers / 8 ? "q4_k" : type;
        if (mix == Mix::IQ3_XXS && !with_imatrix)
            return i < layers / 8 ? "q4_k" : "q3_k";
        if (mix == Mix::Q3_K_M)
            return i < layers / 16 ? "q5_k" : !falcon || more_bits(i, layers) ? "q4_k" : "q3_k";
        if (mix == Mix::IQ3_M && (i < layers / 8 || (h.experts == 8 && more_bits(i, layers))))
            return "q4_k";
        if (mix == Mix::Q3_K_L)
            return falcon ? "q4_k" : "q5_k";
        if (mix == Mix::Q4_K_M) {
            if (falcon)
                return i < layers / 16 ? "q6_k" : more_bits(i, layers) ? "q5_k" : "q4_k";
            return more_bits(i, layers) ? "q6_k" : type;
        }
        if (i < layers / 8 && (mix == Mix::IQ4_NL || mix == Mix::IQ4_XS) && !with_imatrix)
            return "q5_k";
        if (mix == Mix::Q5_K_M && more_bits(i, layers))
            return "q6_k";
        if (mix == Mix::Q4_K_S && !falcon && i < layers / 8)
            return "q5_k";
        if ((mix == Mix::Q4_0 || mix == Mix::Q5_0) && with_imatrix && i < layers / 8)
            return mix == Mix::Q4_0 ? "q4_1" : "q5_1";
        return type;
    }
    if (category == Category::AttnOutput) {
        if (falcon)
            return mix == Mix::Q3_K_L ? "q4_k" : type;
        if (h.experts == 8) {
            const bool bumped = mix == Mix::Q2_K || mix == Mix::IQ3_XS || mix == Mix::IQ3_XXS ||
                                mix == Mix::Q3_K_S || mix == Mix::Q3_K_M || mix == Mix::IQ4_NL ||
                                mix == Mix::Q4_K_S || mix == Mix::Q4_K_M || mix == Mix::IQ3_S ||
                                mix == Mix::IQ3_M || mix == Mix::IQ4_XS;
            return bumped ? "q5_k" : type;
        }
        if (mix == Mix::Q2_K)
            return "q3_k";
        if (mix == Mix::IQ3_XXS)
            return "iq3_s";
        if (mix == Mix::IQ3_M)
            return "q4_k";
        if (mix == Mix::Q3_K_M)
            return "q4_k";
        if (mix == Mix::Q3_K_L)
            return "q5_k";
        return type;
    }
    if (category == Category::FfnGate || category == Category::FfnUp) {
        const int i = category == Category::FfnGate ? n.ffn_gate++ : n.ffn_up++, layers = n.n_layers;
        return mix == Mix::IQ3_XS && i >= layers / 8 && i < 7 * layers / 8 ? "iq3_xxs" : type;
    }
    if (category == Category::AttnQkv) {  // (reached only when not attn_v-like; kept for completeness)
        if (mix == Mix::Q3_K_M || mix == Mix::Q3_K_L || mix == Mix::IQ3_M)
            return "q4_k";
        if (mix == Mix::Q4_K_M)
            return "q5_k";
        if (mix == Mix::Q5_K_M)
            return "q6_k";
    }
    return type;
}

std::string upper(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return text;
}

}  // namespace

const std::vector<std::string>& llama_mix_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> list;
        for (const auto& entry : kMixes)
            list.push_back(entry.name);
        return list;
    }();
    return names;
}

QuantPlan llama_mix_plan(const Model& model, const std::string& mix_name, bool with_imatrix) {
    const std::string& path = model.file().path();
    const MixEntry* entry = nullptr;
    for (const auto& candidate : kMixes)
        if (upper(mix_name) == candidate.name ||
            upper(mix_name) + "_M" == candidate.name)  // "Q4_K" is Q4_K_M
            entry = &candidate;
    if (!entry) {
        std::string names;
        for (const auto& name : llama_mix_names())
            names += (names.empty() ? "" : ", ") + name;
        throw Error("", "mix \"" + mix_name + "\"",
                    "expected one of llama-quantize's mixes QuantLens writes: " + names);
    }
    // The weight tensors in the order the file lists them, with their llama.cpp names and layers.
    std::map<std::string, const Layer*> layer_of_weight;
    for (const auto& layer : model.layers())
        if (!layer.weight.empty())
            layer_of_weight[layer.weight] = &layer;
    struct Tensor {
        std::string llama_name;
        const Layer* layer;
        const TensorInfo* info;
    };
    std::vector<Tensor> tensors;
    for (const auto& info : model.file().tensors()) {
        const auto found = layer_of_weight.find(info.name);
        if (found == layer_of_weight.end())
            continue;
        const auto name = model.llama_cpp_name(*found->second);
        if (name.empty())
            throw Error(
                path, info.name,
                "has no llama.cpp tensor name: llama-quantize's mixes are for GGUF files and Hugging Face "
                "llama-family folders");
        tensors.push_back({name, found->second, &info});
    }
    const Hparams h = hparams_of(model);
    Counters counters;
    counters.n_layers = static_cast<int>(h.layers);
    bool tied = true;  // until an output.weight shows otherwise
    for (const auto& t : tensors) {
        counters.n_attention_wv += attn_v_like(category_of(t.llama_name)) ? 1 : 0;
        tied = tied && !is_llama_output(t.llama_name);
    }
    QuantPlan plan;
    plan.model_path = path;
    plan.model_identity = hex64(model_identity(path).content);
    plan.metric = std::string("llama-quantize ") + entry->name + (with_imatrix ? " --imatrix" : "");
    for (const auto& t : tensors) {
        if (!quantized_by_llama(t.llama_name, t.info->shape.size()))
            continue;
        const std::int64_t row_length = t.info->shape.back();
        const auto type = mix_type(entry->mix, entry->default_type, category_of(t.llama_name), row_length, h,
                                   tied, with_imatrix, counters);
        plan.layers.emplace_back(t.layer->name, ggml_fallback(QuantSpec::parse(type), row_length));
    }
    return plan;
}

}  // namespace quantlens

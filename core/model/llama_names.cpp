#include "model/llama_names.hpp"

#include <algorithm>
#include <map>
#include <regex>

#include "util/error.hpp"

namespace quantlens {

std::optional<std::string> find_llama_cpp_tensor_name(const std::string& name) {
    static const std::map<std::string, std::string> kTop = {
        {"model.embed_tokens.weight", "token_embd.weight"},
        {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"}};
    static const std::map<std::string, std::string> kBlock = {
        {"input_layernorm.weight", "attn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"},
        {"self_attn.rotary_emb.inv_freq", ""}};
    if (const auto top = kTop.find(name); top != kTop.end())
        return top->second;
    static const std::regex kBlockName(R"(model\.layers\.(\d+)\.(.+))");
    std::smatch match;
    if (std::regex_match(name, match, kBlockName))
        if (const auto found = kBlock.find(match[2].str()); found != kBlock.end())
            return found->second.empty() ? "" : "blk." + match[1].str() + "." + found->second;
    return std::nullopt;
}

std::string llama_cpp_tensor_name(const std::string& name, const std::string& path) {
    if (auto found = find_llama_cpp_tensor_name(name))
        return *found;
    throw Error(path, name,
                "is not a tensor of the llama architecture llama.cpp loads (embed_tokens, "
                "layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj, "
                "post_attention_layernorm, mlp.{gate,up,down}_proj}, norm, lm_head)");
}

namespace {

// Moves row h·D + j·D/2 + i to h·D + 2i + j (forward) or back (inverse), whole rows at a time.
std::vector<float> move_rotary_rows(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                    std::int64_t heads, bool inverse) {
    if (heads <= 0 || rows % (2 * heads) != 0 || static_cast<std::int64_t>(values.size()) != rows * cols)
        throw Error(
            "", "permute",
            std::to_string(rows) + " rows are not " + std::to_string(heads) + " heads of an even size");
    const std::int64_t head_dim = rows / heads, half = head_dim / 2;
    std::vector<float> result(values.size());
    for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < half; ++i)
            for (std::int64_t j = 0; j < 2; ++j) {
                auto to = static_cast<std::size_t>((h * head_dim + 2 * i + j) * cols),
                     from = static_cast<std::size_t>((h * head_dim + j * half + i) * cols);
                if (inverse)
                    std::swap(to, from);
                std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(from), cols,
                            result.begin() + static_cast<std::ptrdiff_t>(to));
            }
    return result;
}

}  // namespace

std::vector<float> llama_permute_rows(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                      std::int64_t heads) {
    return move_rotary_rows(values, rows, cols, heads, false);
}

std::vector<float> llama_unpermute_rows(std::span<const float> values, std::int64_t rows, std::int64_t cols,
                                        std::int64_t heads) {
    return move_rotary_rows(values, rows, cols, heads, true);
}

}  // namespace quantlens

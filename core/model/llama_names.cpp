#include "model/llama_names.hpp"

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

}  // namespace quantlens

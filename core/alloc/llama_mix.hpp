#pragma once
// llama-quantize's named mixes (Q4_K_M, Q3_K_L, IQ4_XS, ...) as a QuantLens plan: the ggml type
// llama-quantize gives each tensor of a llama-family model, by its rules (llama.cpp
// src/llama-quant.cpp, llama_tensor_get_type; docs/plan.md "llama-quantize's mixes"): a
// default type per mix, then per tensor category the bumps (attn_v and ffn_down in the first
// and last eighths and every third block between them to Q6_K in Q4_K_M, the output to Q6_K,
// GQA- and 70B-dependent attn_v types, ...), then the fallback on rows a type's blocks do not
// divide. The counters those rules use run in the order the model lists its tensors, as
// llama-quantize reads a GGUF.
//
// Every mix llama-quantize names but MXFP4_MOE: Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S,
// Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ3_XXS, IQ3_XS,
// IQ3_S, IQ3_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0. The model must have
// llama.cpp's tensor names (a GGUF, or a Hugging Face llama folder through model/llama_names).
#include <string>
#include <vector>

#include "alloc/plan.hpp"
#include "model/model.hpp"

namespace quantlens {

const std::vector<std::string>& llama_mix_names();

// The plan llama-quantize's `mix` writes for this model (`with_imatrix`: as with --imatrix, which
// changes a few choices); Error for an unknown mix or a model without llama.cpp names.
QuantPlan llama_mix_plan(const Model& model, const std::string& mix, bool with_imatrix);

}  // namespace quantlens

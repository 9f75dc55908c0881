#pragma once
// Rotary position embeddings as transformers computes them from config.json
// (modeling_rope_utils.py): the inverse frequencies of each rotated pair and the factor cos and
// sin are multiplied by. docs/sensitivity.md has the formulas of each rope_type.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace quantlens::nn {

struct RotaryParameters {
    std::vector<double> inv_freq;  // head_dim / 2 of them
    double factor = 1;             // YaRN's attention factor; 1 for every other type
};

// `parameters` is one rope description in the newer dialect's shape: rope_type (or its old
// name type, or absent for "default"), rope_theta, and the type's own fields (factor,
// low_freq_factor, high_freq_factor, original_max_position_embeddings, beta_fast, beta_slow,
// attention_factor, mscale, mscale_all_dim, truncate). `field` names it in errors
// ("config.json rope_scaling"). Supported: default, linear, dynamic, yarn, llama3; anything
// else is refused by name. `dim` is the rotated width (head_dim).
RotaryParameters rotary_parameters(const nlohmann::json& parameters, int dim, std::int64_t max_positions,
                                   const std::string& path, const std::string& field);

}  // namespace quantlens::nn

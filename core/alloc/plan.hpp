#pragma once
// A quantization plan: which spec each layer of one model gets. Saved as versioned JSON
// (quantlens.plan/1, docs/plan.md) so it can be kept, shared, edited and applied again.
// Applying a plan names layers exactly or by pattern; a plan made for another model is refused.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "alloc/budget.hpp"
#include "model/model.hpp"
#include "quant/quant_spec.hpp"

namespace quantlens {

struct QuantPlan {
    std::string model_path;  // as given when the plan was made (informative)
    std::string
        model_identity;  // ModelIdentity::content as hex: sizes and header hashes of the model's files
    std::optional<QuantSpec> default_spec;                  // for quantizable layers no entry names
    std::vector<std::pair<std::string, QuantSpec>> layers;  // exact layer names, in model order
    std::vector<std::pair<std::string, QuantSpec>>
        patterns;  // ECMAScript regex over the whole name; first match wins
    std::optional<Budget> budget;
    std::string metric;  // what the predicted damage was, when the plan came from an allocation
    struct Summary {
        std::uint64_t parameters = 0, size_bytes = 0;
        double bits_per_weight = 0, predicted_damage = 0;
    };
    std::optional<Summary> summary;
};

inline constexpr const char* kPlanSchema = "quantlens.plan/1";

nlohmann::ordered_json to_json(const QuantPlan& plan);
// Error naming `file` and the entry (e.g. layers."blk.0.attn_q") for anything malformed.
QuantPlan parse_plan(std::string_view text, const std::string& file);
QuantPlan load_plan(const std::string& path);
void save_plan(const QuantPlan& plan, const std::string& path);  // atomic

struct LayerAssignment {
    const Layer* layer;
    QuantSpec spec;
};

// Each quantizable layer of `model` with the spec the plan gives it (exact name, else the first
// matching pattern, else the default); layers it leaves out stay as they are. Error naming
// `plan_file` when the plan was made for another model or names a layer the model lacks.
std::vector<LayerAssignment> resolve_plan(const QuantPlan& plan, const Model& model,
                                          const std::string& plan_file);

}  // namespace quantlens

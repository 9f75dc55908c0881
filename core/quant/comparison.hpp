#pragma once
// Several specs on several layers, side by side: what `quantlens-cli compare` prints and
// the GUI's compare view draws. Whole-model figures weight every layer by its size.
#include <optional>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "quant/quantizer.hpp"

namespace quantlens {

struct SpecOutcome {
    std::optional<QuantMetrics> metrics;
    std::string error;    // why this spec does not apply to this layer, or why it failed
    bool failed = false;  // a NonFiniteResult: an error the commands exit non-zero on, not a n/a
};

struct LayerComparison {
    std::string layer;
    std::uint64_t parameters = 0;
    std::vector<SpecOutcome> outcomes;  // one per spec, in order
};

// A spec's whole-model figures cover only the layers it could take: `parameters` and
// `layers` say how many, `skipped_layers` how many it could not (n/a or failed). Totals of
// specs that skipped layers describe a smaller model and are not comparable with complete ones.
struct ModelTotals {
    std::uint64_t parameters = 0, size_bytes = 0, skipped_layers = 0, layers = 0;
    double sqnr_db = 0;  // 10 log10(Σ signal / Σ noise) over the layers it applied to
    double bits_per_weight = 0;
    bool complete() const { return skipped_layers == 0 && layers > 0; }
};

struct Comparison {
    std::vector<QuantSpec> specs;
    std::vector<LayerComparison> layers;
    std::vector<ModelTotals> totals;  // one per spec
    std::uint64_t parameters = 0;     // of every compared layer
    // The spec with the highest whole-model SQNR among those that took every layer; nullopt when
    // none did. A spec that skipped layers is never "best": its total is of a smaller model.
    std::optional<std::size_t> best_total() const;
};

// Layers worth quantizing: linear, conv and embedding weights (norms and vectors are left
// in full precision by every tool we know).
std::vector<const Layer*> quantizable_layers(const Model& model);
bool is_quantizable(LayerKind kind);

Comparison compare_specs(const Model& model, const std::vector<const Layer*>& layers,
                         const std::vector<QuantSpec>& specs, const Progress& progress = {},
                         const CancelToken* cancel = nullptr);

}  // namespace quantlens

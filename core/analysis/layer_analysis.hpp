#pragma once
// Everything the weights alone say about one layer: statistics, QSUR and the quantization
// error of each spec asked for. The unit of work (and of caching) of a model analysis.
#include <optional>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "quant/comparison.hpp"
#include "stats/layer_statistics.hpp"
#include "stats/qsur.hpp"

namespace quantlens {

// Bumped whenever a statistic's definition or computation changes, so cached results made by
// an older QuantLens are recomputed rather than trusted.
inline constexpr int kAnalysisMetricVersion = 1;

struct LayerAnalysis {
    std::string layer;
    LayerKind kind = LayerKind::Other;
    std::vector<std::int64_t> shape;  // output channels first
    std::uint64_t parameters = 0;
    LayerStatistics statistics;
    std::optional<Qsur> qsur;               // weights with at least 2 rows, when asked for
    std::string qsur_skipped;               // why QSUR was asked for but not computed (too wide)
    std::vector<SpecOutcome> quantization;  // one per spec
    bool from_cache = false;
    std::string
        error;  // why this layer could not be analysed (e.g. a K-quant it cannot decode); the rest is empty
};

struct AnalysisOptions {
    std::vector<QuantSpec> specs;
    StatisticsOptions statistics;
    bool qsur = true;
    QsurOptions qsur_options;
    // QSUR's covariance of a layer d inputs wide takes 8·d² bytes and O(d³) time (a 4096-wide
    // layer about 1.5 s on 2 cores); wider layers are skipped with a note unless this is raised.
    std::int64_t qsur_max_width = 8192;
    std::string
        first_layer;  // analysed before the others (the one on screen); report order stays the model's
    bool use_cache = true;
    std::string cache_dir;  // empty: default_cache_dir()
};

// What is still missing from `partial` (a cached entry or nothing) is computed; the rest kept.
// `scratch` lends its buffers to the quantizers, so a run over many layers allocates once.
LayerAnalysis analyze_layer(const Model& model, const Layer& layer, const AnalysisOptions& options,
                            std::optional<LayerAnalysis> partial = {}, const CancelToken* cancel = nullptr,
                            QuantResult* scratch = nullptr);

// Why QSUR is not computed for a weight of this (output-channels-first) shape under `options`
// although it was asked for: the width limit, with the memory and time it would take. Empty
// when QSUR applies, or was not asked for, or cannot apply (fewer than 2 rows).
std::string qsur_skip_reason(const std::vector<std::int64_t>& shape, const AnalysisOptions& options);

// Whether a cached entry already holds every figure `options` asks for.
bool is_complete(const LayerAnalysis& cached, const AnalysisOptions& options);

}  // namespace quantlens

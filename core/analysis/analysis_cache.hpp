#pragma once
// On-disk cache of per-layer analysis results, so reopening a model is instant.
//
// One file per model in the cache folder, named by a hash of the model's identity: for each
// file of the model (the file itself, or every regular file of a model folder) its name, size,
// modification time and a hash of its first MiB (where every format keeps its header), plus
// kAnalysisMetricVersion. A changed file gets a new name, so stale results are never found.
// A file that fails to parse, whose checksum disagrees or whose identity differs is ignored and
// rewritten: the cache is never trusted, only used. Writes are atomic (AtomicFile).
#include <map>
#include <optional>
#include <string>

#include "analysis/layer_analysis.hpp"
#include "model/model.hpp"
#include "model/model_identity.hpp"

namespace quantlens {

// $QUANTLENS_CACHE_DIR, else $XDG_CACHE_HOME/quantlens, else ~/.cache/quantlens.
std::string default_cache_dir();

class AnalysisCache {
public:
    AnalysisCache(std::string cache_dir, const std::string& model_path);

    const std::string& file() const { return file_; }
    // The cached results for `layer` that `options` can use (statistics with the same
    // settings, QSUR with the same settings, the specs it names), or nothing. An entry whose kind,
    // shape or parameter count disagrees with the model's layer, or holds a negative count, is
    // not used.
    std::optional<LayerAnalysis> find(const Model& model, const Layer& layer,
                                      const AnalysisOptions& options) const;
    void store(const LayerAnalysis& analysis, const AnalysisOptions& options);
    // Writes the entries (merged with what is already there); failures to write are ignored
    // (a read-only cache folder must not stop an analysis) but reported by the return value.
    bool save() const;

private:
    std::string file_;
    std::string identity_;                          // the model's identity and the metric version
    std::map<std::string, nlohmann::json> layers_;  // by layer name, in the cache file's form
};

}  // namespace quantlens

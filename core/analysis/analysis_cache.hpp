#pragma once
// On-disk cache of per-layer analysis results, so reopening a model costs a read, not an analysis.
//
// One file per model in the cache folder, named by the model's content identity (the sizes and
// first-MiB hashes of its files, model/model_identity.hpp) and kAnalysisMetricVersion, so a
// copy of the model elsewhere finds the same file. Each layer's entry is keyed by a content
// hash of the bytes it summarises (the weight tensor's stored bytes, dtype and shape:
// layer_content_hash), so an entry is used only for exactly the data it was computed from,
// whatever the files' modification times say. A file that fails to parse, whose checksum
// disagrees or whose identity differs is ignored and rewritten: the cache is never trusted,
// only used. Writes are atomic (AtomicFile).
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
    // `content` is layer_content_hash(model, layer): an entry made from other bytes is not used.
    std::optional<LayerAnalysis> find(const Model& model, const Layer& layer, const AnalysisOptions& options,
                                      const std::string& content) const;
    void store(const LayerAnalysis& analysis, const AnalysisOptions& options, const std::string& content);
    // Writes the entries (merged with what is already there); failures to write are ignored
    // (a read-only cache folder must not stop an analysis) but reported by the return value.
    bool save() const;

private:
    std::string file_;
    std::string identity_;                          // the model's identity and the metric version
    std::map<std::string, nlohmann::json> layers_;  // by layer name, in the cache file's form
};

// The content hash of what a layer's analysis summarises: its weight tensor's dtype, shape and
// stored bytes (read once; at memory speed from a mapping). Throws Error when unreadable.
// (With an importance matrix attached to the model, the layer's importance weights too.)
std::string layer_content_hash(const Model& model, const Layer& layer);

}  // namespace quantlens

#pragma once
// A model analysis as an object: runs on a worker thread (start) or the caller's (run),
// reports progress and each finished layer through callbacks, honours cancel(), and takes
// a layer to the front of the queue on request (prioritize: the one the user is looking at).
// Results found in the on-disk cache (analysis_cache.hpp) count as done at once.
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "analysis/layer_analysis.hpp"
#include "analysis/model_analysis.hpp"

namespace quantlens {

class Analysis {
public:
    using LayerDone = std::function<void(const LayerAnalysis&)>;  // called on the thread doing the work

    Analysis(std::shared_ptr<const Model> model, AnalysisOptions options);
    ~Analysis();  // cancels and joins a running worker
    Analysis(const Analysis&) = delete;
    Analysis& operator=(const Analysis&) = delete;

    void start(Progress progress = {}, LayerDone layer_done = {});
    // The same on the calling thread; `cancel` is honoured as well as cancel().
    void run(Progress progress = {}, LayerDone layer_done = {}, const CancelToken* cancel = nullptr);
    void prioritize(const std::string& layer);
    void cancel() { cancel_.cancel(); }

    // Joins the worker and returns the report; rethrows what stopped it (Cancelled after cancel()).
    AnalysisReport wait();
    std::optional<LayerAnalysis> result(const std::string& layer) const;  // once that layer is done
    std::size_t layers_done() const;
    bool running() const { return running_.load(); }  // a worker started and not yet returned
    std::size_t layer_count() const { return layers_.size(); }

private:
    std::shared_ptr<const Model> model_;
    AnalysisOptions options_;
    std::vector<const Layer*> layers_;
    CancelToken cancel_;
    mutable std::mutex mutex_;
    std::vector<std::size_t> pending_;  // layer indices, next first
    std::vector<std::optional<LayerAnalysis>> results_;
    std::exception_ptr error_;
    std::thread worker_;
    std::atomic<bool> running_{false};
};

}  // namespace quantlens

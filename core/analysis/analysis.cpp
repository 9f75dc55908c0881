#include "analysis/analysis.hpp"

#include <algorithm>
#include <chrono>

#include "analysis/analysis_cache.hpp"

namespace quantlens {

namespace {

// Finished layers reach the disk at least this often, so a cancelled or crashed run of a
// large model keeps most of its work.
constexpr auto kSaveInterval = std::chrono::seconds(2);

}  // namespace

Analysis::Analysis(std::shared_ptr<const Model> model, AnalysisOptions options)
    : model_(std::move(model)), options_(std::move(options)), layers_(quantizable_layers(*model_)) {
    results_.resize(layers_.size());
    for (std::size_t i = 0; i < layers_.size(); ++i)
        if (layers_[i]->name == options_.first_layer)
            pending_.push_back(i);
    for (std::size_t i = 0; i < layers_.size(); ++i)
        if (layers_[i]->name != options_.first_layer)
            pending_.push_back(i);
}

Analysis::~Analysis() {
    cancel_.cancel();
    if (worker_.joinable())
        worker_.join();
}

void Analysis::start(Progress progress, LayerDone layer_done) {
    running_ = true;
    worker_ = std::thread([this, progress = std::move(progress), layer_done = std::move(layer_done)] {
        try {
            run(progress, layer_done);
        } catch (...) {
            std::lock_guard lock(mutex_);
            error_ = std::current_exception();
        }
        running_ = false;
    });
}

void Analysis::run(Progress progress, LayerDone layer_done, const CancelToken* cancel) {
    CancelScope reads(cancel ? cancel : &cancel_);  // reads inside the readers poll it too
    std::optional<AnalysisCache> cache;
    if (options_.use_cache)
        cache.emplace(options_.cache_dir.empty() ? default_cache_dir() : options_.cache_dir,
                      model_->file().path());
    std::uint64_t total = 0, done = 0;
    for (const auto* layer : layers_)
        total += model_->file().tensor(layer->weight).elements();
    QuantResult scratch;  // the quantizers' buffers, reused from layer to layer
    bool unsaved = false;
    auto last_save = std::chrono::steady_clock::now();
    // The caller's token and cancel() both stop the work between layers; inside a layer the
    // quantizers poll the caller's token when there is one, else cancel()'s.
    auto check = [&] {
        if (cancel_.cancelled() || (cancel && cancel->cancelled()))
            throw Cancelled();
    };
    try {
        for (;;) {
            std::size_t index;
            {
                std::lock_guard lock(mutex_);
                if (pending_.empty())
                    break;
                index = pending_.front();
                pending_.erase(pending_.begin());
            }
            check();
            const Layer& layer = *layers_[index];
            if (progress)
                progress(done, total, layer.name);
            LayerAnalysis result;
            std::string content;  // what the layer's cache entry is keyed by
            try {
                std::optional<LayerAnalysis> partial;
                if (cache) {
                    content = layer_content_hash(*model_, layer);
                    partial = cache->find(*model_, layer, options_, content);
                }
                result = analyze_layer(*model_, layer, options_, std::move(partial),
                                       cancel ? cancel : &cancel_, &scratch);
            } catch (const Error& error) {  // one bad layer must not cost the others theirs
                result.layer = layer.name;
                result.kind = layer.kind;
                result.parameters = model_->file().tensor(layer.weight).elements();
                result.error = error.what();
            }
            check();
            if (cache && !result.from_cache && result.error.empty()) {
                cache->store(result, options_, content);
                unsaved = true;
                if (std::chrono::steady_clock::now() - last_save > kSaveInterval) {
                    cache->save();
                    unsaved = false;
                    last_save = std::chrono::steady_clock::now();
                }
            }
            done += result.parameters;
            if (layer_done)
                layer_done(result);
            std::lock_guard lock(mutex_);
            results_[index] = std::move(result);
        }
    } catch (...) {
        if (cache && unsaved)
            cache->save();  // keep what was finished
        throw;
    }
    if (cache && unsaved)
        cache->save();
    if (progress)
        progress(total, total, "");
}

void Analysis::prioritize(const std::string& layer) {
    std::lock_guard lock(mutex_);
    auto found = std::find_if(pending_.begin(), pending_.end(),
                              [&](std::size_t i) { return layers_[i]->name == layer; });
    if (found == pending_.end())
        return;  // done, running or not a layer of this analysis
    const std::size_t index = *found;
    pending_.erase(found);
    pending_.insert(pending_.begin(), index);
}

AnalysisReport Analysis::wait() {
    if (worker_.joinable())
        worker_.join();
    std::lock_guard lock(mutex_);
    if (error_)
        std::rethrow_exception(error_);
    AnalysisReport report;
    report.path = model_->file().path();
    report.format = std::string(model_->file().format());
    report.architecture = model_->architecture();
    report.specs = options_.specs;
    for (auto& result : results_) {
        if (!result)
            throw Cancelled();  // run() stopped early
        report.cached_layers += result->from_cache ? 1 : 0;
        report.layers.push_back(*result);
    }
    report.agreement = metric_agreement(report);
    return report;
}

std::optional<LayerAnalysis> Analysis::result(const std::string& layer) const {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < layers_.size(); ++i)
        if (layers_[i]->name == layer)
            return results_[i];
    return std::nullopt;
}

std::size_t Analysis::layers_done() const {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(
        std::count_if(results_.begin(), results_.end(), [](const auto& r) { return r.has_value(); }));
}

}  // namespace quantlens

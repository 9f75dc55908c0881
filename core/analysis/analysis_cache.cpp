#include "analysis/analysis_cache.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "analysis/cache_file.hpp"
#include "util/content_hash.hpp"
#include "util/json_number.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCacheSchema = "quantlens.analysis-cache/3";  // cache_file.hpp's form

nlohmann::json number(double value) {
    return json_number(value);
}
double number(const nlohmann::json& value) {
    if (const auto number = number_from_json(value))
        return *number;
    throw nlohmann::json::other_error::create(501, "not a number: " + value.dump(), &value);
}
// A count or size: a non-negative integer, never a negative one read back wrapped around.
std::uint64_t count(const nlohmann::json& value) {
    if (!value.is_number_unsigned())
        throw nlohmann::json::other_error::create(501, "not a count: " + value.dump(), &value);
    return value.get<std::uint64_t>();
}
std::vector<std::uint64_t> counts(const nlohmann::json& value) {
    std::vector<std::uint64_t> out;
    for (const auto& item : value)
        out.push_back(count(item));
    return out;
}

nlohmann::json histogram_json(const Histogram& h) {
    return {
        {"low", number(h.low)}, {"high", number(h.high)}, {"counts", h.counts}, {"non_finite", h.non_finite}};
}
Histogram histogram_from(const nlohmann::json& j) {
    Histogram h;
    h.low = number(j.at("low"));
    h.high = number(j.at("high"));
    h.counts = counts(j.at("counts"));
    h.non_finite = count(j.at("non_finite"));
    return h;
}
nlohmann::json distribution_json(const Distribution& d) {
    return {number(d.median), number(d.p95), number(d.max)};
}
Distribution distribution_from(const nlohmann::json& j) {
    return {number(j.at(0)), number(j.at(1)), number(j.at(2))};
}

nlohmann::json statistics_json(const LayerStatistics& s) {
    return {{"count", s.count},
            {"mean", number(s.mean)},
            {"std", number(s.std)},
            {"min", number(s.min)},
            {"max", number(s.max)},
            {"absmax", number(s.absmax)},
            {"sparsity", number(s.sparsity)},
            {"skewness", number(s.skewness)},
            {"excess_kurtosis", number(s.excess_kurtosis)},
            {"max_to_mean", number(s.max_to_mean)},
            {"outlier_k", number(s.outlier_k)},
            {"outlier_fraction", number(s.outlier_fraction)},
            {"histogram", histogram_json(s.histogram)},
            {"log_magnitude", histogram_json(s.log_magnitude)},
            {"channel_kurtosis", distribution_json(s.channel_kurtosis)},
            {"channel_absmax", distribution_json(s.channel_absmax)}};
}
LayerStatistics statistics_from(const nlohmann::json& j) {
    LayerStatistics s;
    s.count = count(j.at("count"));
    s.mean = number(j.at("mean"));
    s.std = number(j.at("std"));
    s.min = number(j.at("min"));
    s.max = number(j.at("max"));
    s.absmax = number(j.at("absmax"));
    s.sparsity = number(j.at("sparsity"));
    s.skewness = number(j.at("skewness"));
    s.excess_kurtosis = number(j.at("excess_kurtosis"));
    s.max_to_mean = number(j.at("max_to_mean"));
    s.outlier_k = number(j.at("outlier_k"));
    s.outlier_fraction = number(j.at("outlier_fraction"));
    s.histogram = histogram_from(j.at("histogram"));
    s.log_magnitude = histogram_from(j.at("log_magnitude"));
    s.channel_kurtosis = distribution_from(j.at("channel_kurtosis"));
    s.channel_absmax = distribution_from(j.at("channel_absmax"));
    return s;
}

nlohmann::json qsur_json(const Qsur& q) {
    return {{"samples", q.samples},
            {"dimension", q.dimension},
            {"log10_qsur", number(q.log10_qsur)},
            {"per_dimension", number(q.per_dimension)},
            {"log10_qsur_rotated", number(q.log10_qsur_rotated)},
            {"per_dimension_rotated", number(q.per_dimension_rotated)},
            {"log10_qsur_principal_axes", number(q.log10_qsur_principal_axes)},
            {"per_dimension_principal_axes", number(q.per_dimension_principal_axes)},
            {"rank_deficient", q.rank_deficient},
            {"floored_eigenvalues", q.floored_eigenvalues}};
}
Qsur qsur_from(const nlohmann::json& j) {
    Qsur q;
    q.samples = static_cast<std::int64_t>(count(j.at("samples")));
    q.dimension = static_cast<std::int64_t>(count(j.at("dimension")));
    q.log10_qsur = number(j.at("log10_qsur"));
    q.per_dimension = number(j.at("per_dimension"));
    q.log10_qsur_rotated = number(j.at("log10_qsur_rotated"));
    q.per_dimension_rotated = number(j.at("per_dimension_rotated"));
    q.log10_qsur_principal_axes = number(j.at("log10_qsur_principal_axes"));
    q.per_dimension_principal_axes = number(j.at("per_dimension_principal_axes"));
    q.rank_deficient = j.at("rank_deficient").get<bool>();
    q.floored_eigenvalues = static_cast<std::int64_t>(count(j.at("floored_eigenvalues")));
    return q;
}
nlohmann::json qsur_options_json(const QsurOptions& o) {
    return {number(o.confidence), o.rotated, o.rotation_seed, o.principal_axes};
}

nlohmann::json outcome_json(const SpecOutcome& outcome) {
    if (!outcome.metrics)
        return outcome.failed ? nlohmann::json{{"error", outcome.error}, {"failed", true}}
                              : nlohmann::json{{"error", outcome.error}};
    const auto& m = *outcome.metrics;
    nlohmann::json j = {{"mse", number(m.mse)},
                        {"rmse", number(m.rmse)},
                        {"sqnr_db", number(m.sqnr_db)},
                        {"cosine", number(m.cosine)},
                        {"max_abs_error", number(m.max_abs_error)},
                        {"min_error", number(m.min_error)},
                        {"max_error", number(m.max_error)},
                        {"bits_per_weight", number(m.bits_per_weight)},
                        {"size_bytes", m.size_bytes},
                        {"scales", m.scales},
                        {"zero_points", m.zero_points}};
    if (!std::isnan(m.importance_mse))
        j["importance_mse"] = number(m.importance_mse);
    return j;
}
SpecOutcome outcome_from(const nlohmann::json& j) {
    SpecOutcome outcome;
    if (j.contains("error")) {
        outcome.error = j.at("error").get<std::string>();
        outcome.failed = j.value("failed", false);
        return outcome;
    }
    QuantMetrics m;
    m.mse = number(j.at("mse"));
    m.rmse = number(j.at("rmse"));
    m.sqnr_db = number(j.at("sqnr_db"));
    m.cosine = number(j.at("cosine"));
    m.max_abs_error = number(j.at("max_abs_error"));
    m.min_error = static_cast<float>(number(j.at("min_error")));
    m.max_error = static_cast<float>(number(j.at("max_error")));
    m.bits_per_weight = number(j.at("bits_per_weight"));
    m.size_bytes = count(j.at("size_bytes"));
    m.scales = count(j.at("scales"));
    m.zero_points = count(j.at("zero_points"));
    if (j.contains("importance_mse"))
        m.importance_mse = number(j.at("importance_mse"));
    outcome.metrics = m;
    return outcome;
}

}  // namespace

std::string default_cache_dir() {
    if (const char* dir = std::getenv("QUANTLENS_CACHE_DIR"); dir && *dir)
        return dir;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
        return (fs::path(xdg) / "quantlens").string();
    if (const char* home = std::getenv("HOME"); home && *home)
        return (fs::path(home) / ".cache" / "quantlens").string();
    return (fs::temp_directory_path() / "quantlens-cache").string();
}

AnalysisCache::AnalysisCache(std::string cache_dir, const std::string& model_path)
    : identity_("model " + hex64(model_identity(model_path).content) + "\nmetrics " +
                std::to_string(kAnalysisMetricVersion) + "\n") {
    file_ = (fs::path(cache_dir) / ("analysis-" + hex64(fnv1a(identity_)) + ".json")).string();
    // Anything wrong and the entry is simply not used; the next save replaces it.
    const auto layers = read_cache_file(file_, kCacheSchema, identity_);
    if (!layers || !layers->is_object())
        return;
    for (const auto& [name, entry] : layers->items())
        layers_[name] = entry;
}

std::optional<LayerAnalysis> AnalysisCache::find(const Model& model, const Layer& layer,
                                                 const AnalysisOptions& options,
                                                 const std::string& content) const {
    const auto found = layers_.find(layer.name);
    if (found == layers_.end())
        return std::nullopt;
    try {
        const auto& entry = found->second;
        if (entry.at("content").get<std::string>() != content)
            return std::nullopt;  // made from other bytes: the layer's data changed
        LayerAnalysis result;
        result.layer = layer.name;
        result.kind = layer_kind_from_name(entry.at("kind").get<std::string>());
        result.shape = entry.at("shape").get<std::vector<std::int64_t>>();
        result.parameters = count(entry.at("parameters"));
        result.statistics = statistics_from(entry.at("statistics"));
        if (entry.contains("qsur") && entry.at("qsur_options") == qsur_options_json(options.qsur_options))
            result.qsur = qsur_from(entry.at("qsur"));
        for (const auto& spec : options.specs) {
            const auto& specs = entry.at("specs");
            const auto text = spec.to_string();
            result.quantization.push_back(specs.contains(text) ? outcome_from(specs.at(text))
                                                               : SpecOutcome{});
        }
        // An entry must describe this layer as the model has it: same kind, shape and count.
        const auto& info = model.file().tensor(layer.weight);
        if (result.kind != layer.kind || result.shape != normalised_shape(info.shape, layer.orientation) ||
            result.parameters != info.elements() || result.statistics.count != result.parameters)
            return std::nullopt;
        return result;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void AnalysisCache::store(const LayerAnalysis& analysis, const AnalysisOptions& options,
                          const std::string& content) {
    auto& entry = layers_[analysis.layer];
    const bool same_data = entry.is_object() && entry.contains("content") && entry.at("content") == content;
    nlohmann::json specs = same_data && entry.contains("specs") && entry.at("specs").is_object()
                               ? entry.at("specs")
                               : nlohmann::json::object();
    entry = nlohmann::json::object();
    entry["content"] = content;
    entry["kind"] = layer_kind_name(analysis.kind);
    entry["shape"] = analysis.shape;
    entry["parameters"] = analysis.parameters;
    entry["statistics"] = statistics_json(analysis.statistics);
    if (analysis.qsur) {
        entry["qsur"] = qsur_json(*analysis.qsur);
        entry["qsur_options"] = qsur_options_json(options.qsur_options);
    }
    for (std::size_t k = 0; k < options.specs.size() && k < analysis.quantization.size(); ++k) {
        const auto& outcome = analysis.quantization[k];
        if (outcome.metrics || !outcome.error.empty())
            specs[options.specs[k].to_string()] = outcome_json(outcome);
    }
    entry["specs"] = std::move(specs);
}

bool AnalysisCache::save() const {
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& [name, entry] : layers_)
        layers[name] = entry;
    return write_cache_file(file_, kCacheSchema, identity_, layers);
}

std::string layer_content_hash(const Model& model, const Layer& layer) {
    const auto& info = model.file().tensor(layer.weight);
    const auto stored = model.file().read(info);
    ContentHasher hasher;
    hasher.update(stored_type_name(info) + " " + shape_text(info.shape) + "\n");
    hasher.update(stored.bytes());
    stored.release_pages();
    // The ggml types quantize with the layer's importance (llama.cpp imatrix) when one is attached:
    // other importance, other figures.
    if (const auto importance = model.importance(layer); !importance.empty()) {
        hasher.update(std::string("importance\n"));
        hasher.update(std::as_bytes(importance));
    }
    return hasher.hex();
}

}  // namespace quantlens

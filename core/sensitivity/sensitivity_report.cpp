#include "sensitivity/sensitivity_report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "analysis/analysis_cache.hpp"
#include "analysis/cache_file.hpp"
#include "analysis/model_analysis.hpp"
#include "model/model_identity.hpp"
#include "sensitivity/cost_estimate.hpp"
#include "util/content_hash.hpp"
#include "stats/rank_correlation.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Everything the report depends on, as text: what the cache file is named by and checked against.
std::string cache_key(const Model& model, const LabelledData& data, const SensitivityRequest& request,
                      const CancelToken* cancel) {
    std::ostringstream key;
    key.precision(17);
    key << kSensitivitySchema << "\n"
        << "model " << file_content_hash(model.file().path(), cancel) << "\ncalibration "
        << (data.path.empty() ? std::string("none") : file_content_hash(data.path, cancel)) << "\nsamples "
        << data.x.rows() << "\nmetrics " << request.hessian << request.lrp << request.measured
        << request.proxy << "\nspecs";
    for (const auto& spec : request.specs)
        key << " " << spec.to_string();
    const auto& h = request.hessian_options;
    key << "\nhutchinson " << h.hutchinson.max_samples << " " << h.hutchinson.tolerance << " "
        << h.hutchinson.min_samples << " " << h.hutchinson.seed << " " << h.exact << " "
        << (h.hutchinson.joint ? "joint" : "per-layer");
    const auto& l = request.lrp_options;
    key << "\nlrp " << lrp_rule_name(l.rule) << " " << l.epsilon << " " << l.gamma << " "
        << static_cast<int>(l.target) << "\nfloat64 " << request.float64;
    return key.str();
}

std::string cache_file(const SensitivityRequest& request, const std::string& key) {
    const auto dir = request.cache_dir.empty() ? default_cache_dir() : request.cache_dir;
    return dir + "/sensitivity-" + hex64(fnv1a(key)) + ".json";
}

constexpr const char* kCacheSchema = "quantlens.sensitivity-cache/1";  // cache_file.hpp's form

std::optional<SensitivityReport> cached(const std::string& path, const std::string& key) {
    const auto payload = read_cache_file(path, kCacheSchema, key);
    if (!payload)
        return std::nullopt;
    try {  // the cache is never trusted, only used: anything wrong with it means recomputing
        auto report = sensitivity_from_json(*payload, path);
        report.from_cache = true;
        return report;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

void store(const std::string& path, const std::string& key, const SensitivityReport& report) {
    write_cache_file(path, kCacheSchema, key, nlohmann::json::parse(to_json(report).dump()));
}

}  // namespace

std::vector<PredictorAgreement> agreement_of(const SensitivityReport& report) {
    std::vector<PredictorAgreement> result;
    for (std::size_t s = 0; s < report.specs.size(); ++s) {
        const auto series = sensitivity_series(report, s);
        const std::vector<double>* truth = nullptr;
        for (const auto& [name, values] : series)
            if (name == "delta_loss")
                truth = &values;
        if (!truth)
            continue;
        for (const auto& [name, values] : series) {
            if (name == "delta_loss")
                continue;
            std::vector<double> a, b;
            for (std::size_t i = 0; i < values.size(); ++i)
                if (std::isfinite(values[i]) && std::isfinite((*truth)[i])) {
                    a.push_back(values[i]);
                    b.push_back((*truth)[i]);
                }
            if (a.size() < 3)
                continue;
            result.push_back({report.specs[s].to_string(), name, spearman(a, b), a.size()});
        }
    }
    return result;
}

void set_metrics(SensitivityRequest& request, const std::string& metrics) {
    request.hessian = request.lrp = request.measured = request.proxy = false;
    std::stringstream list(metrics);
    std::string item;
    while (std::getline(list, item, ',')) {
        if (item == "hessian")
            request.hessian = true;
        else if (item == "lrp")
            request.lrp = true;
        else if (item == "measured")
            request.measured = true;
        else if (item == "proxy")
            request.proxy = true;
        else
            throw Error("", "--metrics \"" + item + "\"",
                        "expected hessian, lrp, measured or proxy (comma-separated)");
    }
}

std::vector<std::pair<std::string, std::vector<double>>> sensitivity_series(const SensitivityReport& report,
                                                                            std::size_t spec) {
    std::map<std::string, std::vector<double>> by_name;
    const auto n = report.layers.size();
    auto put = [&](const char* name, std::size_t i, double value) {
        auto& values = by_name[name];
        if (values.empty())
            values.assign(n, kNaN);
        values[i] = value;
    };
    for (std::size_t i = 0; i < n; ++i) {
        const auto& layer = report.layers[i];
        if (layer.hessian && spec < layer.hessian->omega.size())
            put("hessian_omega", i, layer.hessian->omega[spec]);
        if (layer.lrp)
            put("lrp", i, layer.lrp->contribution);
        if (layer.damage) {
            const auto& d = *layer.damage;
            if (spec < d.proxy_damage.size())
                put("proxy", i, d.proxy_damage[spec]);
            if (spec < d.weight_mse.size())
                put("weight_mse", i, d.weight_mse[spec]);
            if (spec < d.fisher.size())
                put("fisher", i, d.fisher[spec]);
            if (spec < d.kl.size())
                put("kl", i, d.kl[spec]);
            if (spec < d.delta_loss.size())
                put("delta_loss", i, d.delta_loss[spec]);
            if (std::isfinite(d.activation_kurtosis))
                put("activation_kurtosis", i, d.activation_kurtosis);
            if (std::isfinite(d.activation_qsur))
                put("activation_qsur", i, d.activation_qsur);
            if (std::isfinite(d.activation_mmr))
                put("activation_mmr", i, d.activation_mmr);
        }
        put("kurtosis", i, layer.excess_kurtosis);
        put("mmr", i, layer.max_to_mean);
        if (layer.qsur_per_dimension)
            put("qsur", i, *layer.qsur_per_dimension);
    }
    std::vector<std::pair<std::string, std::vector<double>>> result;
    for (const char* name :
         {"hessian_omega", "fisher", "proxy", "lrp", "weight_mse", "kurtosis", "mmr", "qsur",
          "activation_kurtosis", "activation_qsur", "activation_mmr", "kl", "delta_loss"})
        if (by_name.count(name))
            result.emplace_back(name, std::move(by_name[name]));
    return result;
}

SensitivityReport model_sensitivity(const Model& model, const LabelledData& data,
                                    const SensitivityRequest& request, const Progress& progress,
                                    const CancelToken* cancel) {
    // The key hashes every byte of the model and the calibration file: only asked for with a cache.
    const auto key = request.use_cache ? cache_key(model, data, request, cancel) : std::string();
    const auto path = request.use_cache ? cache_file(request, key) : std::string();
    if (request.use_cache)
        if (auto hit = cached(path, key))
            return std::move(*hit);
    const auto estimate = estimate_sensitivity_cost(model, data, request);
    if (request.on_estimate)
        request.on_estimate(estimate);
    require_affordable(estimate, model.file().path());
    SensitivityReport report;
    report.model = model.file().path();
    report.model_identity = hex64(model_identity(model.file().path()).content);
    report.calibration = data.path;
    report.samples = static_cast<std::size_t>(data.x.rows());
    report.specs = request.specs;
    // the weight-only figures of the same layers, from the analysis cache when it has them
    AnalysisOptions analysis;
    analysis.use_cache = request.use_cache;
    analysis.cache_dir = request.cache_dir;
    const auto weights = analyze_model(model, analysis, progress, cancel);
    std::map<std::string, const LayerAnalysis*> weight_figures;
    for (const auto& layer : weights.layers)
        weight_figures[layer.layer] = &layer;
    DamageOptions damage_options;
    damage_options.float64 = request.float64;
    damage_options.measure = request.measured;
    const auto damage = layer_damage(model, data, request.specs, damage_options, progress,
                                     cancel);  // also lists the weighted layers
    report.loss = damage.loss;
    report.accuracy = damage.accuracy;
    for (const auto& d : damage.layers) {
        LayerSensitivity layer;
        layer.layer = d.layer;
        layer.op = d.op;
        layer.weights = d.weights;
        if (request.measured || request.proxy)
            layer.damage = d;
        if (const auto found = weight_figures.find(d.layer); found != weight_figures.end()) {
            layer.excess_kurtosis = found->second->statistics.excess_kurtosis;
            layer.max_to_mean = found->second->statistics.max_to_mean;
            if (found->second->qsur)
                layer.qsur_per_dimension = found->second->qsur->per_dimension;
        }
        report.layers.push_back(std::move(layer));
    }
    auto find = [&](const std::string& name) -> LayerSensitivity* {
        for (auto& layer : report.layers)
            if (layer.layer == name)
                return &layer;
        return nullptr;
    };
    if (request.hessian)
        for (auto& h :
             hessian_sensitivity(model, data, request.specs, request.hessian_options, progress, cancel)
                 .layers)
            if (auto* layer = find(h.layer))
                layer->hessian = std::move(h);
    if (request.lrp) {
        const auto lrp = lrp_sensitivity(model, data, request.lrp_options, cancel);
        report.lrp_conservation_error = lrp.conservation_error;
        for (const auto& l : lrp.layers)
            if (auto* layer = find(l.layer))
                layer->lrp = l;
    }
    report.agreement = agreement_of(report);
    if (request.use_cache)
        store(path, key, report);
    return report;
}

std::string predictor_label(std::string_view predictor) {
    static const std::map<std::string, std::string, std::less<>> kLabels = {
        {"hessian_omega", "HAWQ Ω"},
        {"fisher", "Fisher–Taylor"},
        {"lrp", "LRP"},
        {"proxy", "Tr(2XᵀX) proxy"},
        {"weight_mse", "weight MSE"},
        {"kurtosis", "kurtosis"},
        {"mmr", "weight max/mean"},
        {"qsur", "QSUR"},
        {"activation_kurtosis", "activation kurtosis"},
        {"activation_qsur", "activation QSUR"},
        {"activation_mmr", "activation max/median"}};
    const auto found = kLabels.find(predictor);
    return found == kLabels.end() ? std::string() : found->second;
}

std::vector<PredictorAgreement> ranked_predictors(const SensitivityReport& report, const std::string& spec) {
    std::vector<PredictorAgreement> ranked;
    for (const auto& agreement : report.agreement)
        if (agreement.spec == spec && !predictor_label(agreement.predictor).empty() &&
            std::isfinite(agreement.rho))
            ranked.push_back(agreement);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.rho > b.rho; });
    return ranked;
}

}  // namespace quantlens

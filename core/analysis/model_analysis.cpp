#include "analysis/model_analysis.hpp"

#include <cmath>
#include <cstdio>

#include "stats/rank_correlation.hpp"

namespace quantlens {

namespace {

LayerAnalysis analyze_layer(const Model& model, const Layer& layer, const AnalysisOptions& options, const CancelToken* cancel) {
    auto weights = model.read_weights(layer);
    auto matrix = as_matrix(weights.values(), weights.shape);
    LayerAnalysis result;
    result.layer = layer.name;
    result.kind = layer.kind;
    result.shape = weights.shape;
    result.parameters = weights.values().size();
    result.statistics = layer_statistics(matrix.values, matrix.rows, matrix.cols, options.statistics);
    QuantOptions quant_options;
    quant_options.cancel = cancel;
    quant_options.codes = false;
    for (const auto& spec : options.specs) {
        SpecOutcome outcome;
        try {
            outcome.metrics = quantize(matrix, spec, quant_options).metrics;
        } catch (const Error& error) {
            outcome.error = error.reason();
        }
        result.quantization.push_back(std::move(outcome));
    }
    return result;
}

MetricAgreement agreement_of(const AnalysisReport& report) {
    std::vector<std::pair<std::string, std::vector<double>>> series = {
        {"excess_kurtosis", {}}, {"skewness", {}}, {"max_to_mean", {}}, {"outlier_fraction", {}}, {"channel_kurtosis_p95", {}}};
    for (const auto& layer : report.layers) {
        const auto& s = layer.statistics;
        series[0].second.push_back(s.excess_kurtosis);
        series[1].second.push_back(s.skewness);
        series[2].second.push_back(s.max_to_mean);
        series[3].second.push_back(s.outlier_fraction);
        series[4].second.push_back(s.channel_kurtosis.p95);
    }
    for (std::size_t k = 0; k < report.specs.size(); ++k) {
        std::vector<double> mse;
        for (const auto& layer : report.layers) {
            if (!layer.quantization[k].metrics) { mse.clear(); break; }  // a spec that skips layers is left out
            mse.push_back(layer.quantization[k].metrics->mse);
        }
        if (!mse.empty()) series.emplace_back("mse:" + report.specs[k].to_string(), std::move(mse));
    }
    MetricAgreement agreement;
    for (const auto& [name, values] : series) agreement.metrics.push_back(name);
    for (const auto& [a_name, a] : series) {
        std::vector<double> row;
        for (const auto& [b_name, b] : series) row.push_back(spearman(a, b));
        agreement.spearman.push_back(std::move(row));
    }
    return agreement;
}

nlohmann::ordered_json number(double value) { return std::isfinite(value) ? nlohmann::ordered_json(value) : nlohmann::ordered_json(nullptr); }

}  // namespace

AnalysisReport analyze_model(const Model& model, const AnalysisOptions& options, const Progress& progress, const CancelToken* cancel) {
    AnalysisReport report;
    report.path = model.file().path();
    report.format = std::string(model.file().format());
    report.architecture = model.architecture();
    report.specs = options.specs;
    const auto layers = quantizable_layers(model);
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (layers[i]->name == options.first_layer) order.push_back(i);
    for (std::size_t i = 0; i < layers.size(); ++i)
        if (layers[i]->name != options.first_layer) order.push_back(i);
    std::uint64_t total = 0, done = 0;
    for (const auto* layer : layers) total += model.file().tensor(layer->weight).elements();
    std::vector<std::optional<LayerAnalysis>> results(layers.size());
    for (std::size_t i : order) {
        if (cancel) cancel->throw_if_cancelled();
        if (progress) progress(done, total, layers[i]->name);
        results[i] = analyze_layer(model, *layers[i], options, cancel);
        done += results[i]->parameters;
    }
    if (progress) progress(total, total, "");
    for (auto& result : results) report.layers.push_back(std::move(*result));
    report.agreement = agreement_of(report);
    return report;
}

nlohmann::ordered_json to_json(const AnalysisReport& report) {
    nlohmann::ordered_json out;
    out["schema"] = kAnalysisSchema;
    out["file"] = report.path;
    out["format"] = report.format;
    out["architecture"] = report.architecture;
    out["specs"] = nlohmann::ordered_json::array();
    for (const auto& spec : report.specs) out["specs"].push_back(spec.to_string());
    out["layers"] = nlohmann::ordered_json::array();
    for (const auto& layer : report.layers) {
        const auto& s = layer.statistics;
        nlohmann::ordered_json j;
        j["name"] = layer.layer;
        j["kind"] = layer_kind_name(layer.kind);
        j["shape"] = layer.shape;
        j["parameters"] = layer.parameters;
        j["statistics"] = {{"mean", s.mean}, {"std", s.std}, {"min", s.min}, {"max", s.max}, {"absmax", s.absmax}, {"sparsity", s.sparsity},
                           {"skewness", s.skewness}, {"excess_kurtosis", s.excess_kurtosis}, {"max_to_mean", s.max_to_mean},
                           {"outlier_k", s.outlier_k}, {"outlier_fraction", s.outlier_fraction},
                           {"channel_kurtosis", {{"median", s.channel_kurtosis.median}, {"p95", s.channel_kurtosis.p95}, {"max", s.channel_kurtosis.max}}},
                           {"channel_absmax", {{"median", s.channel_absmax.median}, {"p95", s.channel_absmax.p95}, {"max", s.channel_absmax.max}}},
                           {"histogram", {{"low", s.histogram.low}, {"high", s.histogram.high}, {"counts", s.histogram.counts}}}};
        j["quantization"] = nlohmann::ordered_json::array();
        for (std::size_t k = 0; k < layer.quantization.size(); ++k) {
            const auto& outcome = layer.quantization[k];
            nlohmann::ordered_json q{{"spec", report.specs[k].to_string()}};
            if (outcome.metrics) {
                const auto& m = *outcome.metrics;
                q["mse"] = m.mse;
                q["sqnr_db"] = number(m.sqnr_db);
                q["max_abs_error"] = m.max_abs_error;
                q["bits_per_weight"] = m.bits_per_weight;
                q["size_bytes"] = m.size_bytes;
            } else {
                q["error"] = outcome.error;
            }
            j["quantization"].push_back(std::move(q));
        }
        out["layers"].push_back(std::move(j));
    }
    nlohmann::ordered_json matrix = nlohmann::ordered_json::array();
    for (const auto& row : report.agreement.spearman) {
        nlohmann::ordered_json values = nlohmann::ordered_json::array();
        for (double rho : row) values.push_back(number(rho));
        matrix.push_back(std::move(values));
    }
    out["agreement"] = {{"method", "spearman"}, {"metrics", report.agreement.metrics}, {"rho", std::move(matrix)}};
    return out;
}

std::string to_csv(const AnalysisReport& report) {
    std::string out = "layer,kind,parameters,mean,std,absmax,sparsity,skewness,excess_kurtosis,max_to_mean,outlier_fraction,channel_kurtosis_p95";
    for (const auto& spec : report.specs) out += ",mse:" + spec.to_string() + ",sqnr_db:" + spec.to_string() + ",bits_per_weight:" + spec.to_string();
    out += "\n";
    char buffer[64];
    auto add = [&](double value) {
        std::snprintf(buffer, sizeof buffer, ",%.10g", value);
        out += buffer;
    };
    for (const auto& layer : report.layers) {
        const auto& s = layer.statistics;
        std::string name = layer.layer;
        if (name.find_first_of(",\"\n") != std::string::npos) {  // RFC 4180 quoting
            std::string quoted = "\"";
            for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
            name = quoted + "\"";
        }
        out += name + "," + std::string(layer_kind_name(layer.kind)) + "," + std::to_string(layer.parameters);
        for (double v : {s.mean, s.std, s.absmax, s.sparsity, s.skewness, s.excess_kurtosis, s.max_to_mean, s.outlier_fraction, s.channel_kurtosis.p95}) add(v);
        for (const auto& outcome : layer.quantization) {
            if (outcome.metrics) { add(outcome.metrics->mse); add(outcome.metrics->sqnr_db); add(outcome.metrics->bits_per_weight); }
            else out += ",,,";
        }
        out += "\n";
    }
    return out;
}

std::string to_table(const AnalysisReport& report) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-36s %-9s %11s %9s %9s %8s %8s %9s", "LAYER", "KIND", "PARAMS", "KURTOSIS", "SKEW", "MMR", "OUTLIERS", "CH.KURT95");
    out += line;
    for (const auto& spec : report.specs) {
        std::snprintf(line, sizeof line, " %16.16s", (spec.to_string() + " dB").c_str());
        out += line;
    }
    out += "\n";
    for (const auto& layer : report.layers) {
        const auto& s = layer.statistics;
        std::snprintf(line, sizeof line, "%-36.36s %-9s %11llu %9.3f %9.3f %8.2f %7.3f%% %9.3f", layer.layer.c_str(), std::string(layer_kind_name(layer.kind)).c_str(),
                      static_cast<unsigned long long>(layer.parameters), s.excess_kurtosis, s.skewness, s.max_to_mean, 100 * s.outlier_fraction, s.channel_kurtosis.p95);
        out += line;
        for (const auto& outcome : layer.quantization) {
            if (outcome.metrics) std::snprintf(line, sizeof line, " %16.2f", outcome.metrics->sqnr_db);
            else std::snprintf(line, sizeof line, " %16s", "n/a");
            out += line;
        }
        out += "\n";
    }
    out += "\nSpearman rank correlation between per-layer metrics:\n";
    for (std::size_t i = 0; i < report.agreement.metrics.size(); ++i) {
        std::snprintf(line, sizeof line, "%-32.32s", report.agreement.metrics[i].c_str());
        out += line;
        for (double rho : report.agreement.spearman[i]) {
            std::snprintf(line, sizeof line, " %6.2f", rho);
            out += line;
        }
        out += "\n";
    }
    return out;
}

}  // namespace quantlens

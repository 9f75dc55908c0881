// The analysis report as JSON (quantlens.analysis/1, docs/analysis-json.md), CSV and a table.
#include <cmath>
#include <cstdio>

#include "analysis/model_analysis.hpp"
#include "util/json_number.hpp"

namespace quantlens {

namespace {

nlohmann::ordered_json number(double value) {
    return json_number<nlohmann::ordered_json>(value);
}

}  // namespace

nlohmann::ordered_json to_json(const AnalysisReport& report) {
    nlohmann::ordered_json out;
    out["schema"] = kAnalysisSchema;
    out["file"] = report.path;
    out["format"] = report.format;
    out["architecture"] = report.architecture;
    out["specs"] = nlohmann::ordered_json::array();
    for (const auto& spec : report.specs)
        out["specs"].push_back(spec.to_string());
    out["cached_layers"] = report.cached_layers;
    out["layers"] = nlohmann::ordered_json::array();
    for (const auto& layer : report.layers) {
        const auto& s = layer.statistics;
        nlohmann::ordered_json j;
        j["name"] = layer.layer;
        j["kind"] = layer_kind_name(layer.kind);
        j["shape"] = layer.shape;
        j["parameters"] = layer.parameters;
        if (!layer.error.empty()) {
            j["error"] = layer.error;
            out["layers"].push_back(std::move(j));
            continue;
        }
        j["statistics"] = {
            {"mean", s.mean},
            {"std", s.std},
            {"min", s.min},
            {"max", s.max},
            {"absmax", s.absmax},
            {"sparsity", s.sparsity},
            {"skewness", s.skewness},
            {"excess_kurtosis", s.excess_kurtosis},
            {"max_to_mean", s.max_to_mean},
            {"outlier_k", s.outlier_k},
            {"outlier_fraction", s.outlier_fraction},
            {"channel_kurtosis",
             {{"median", s.channel_kurtosis.median},
              {"p95", s.channel_kurtosis.p95},
              {"max", s.channel_kurtosis.max}}},
            {"channel_absmax",
             {{"median", s.channel_absmax.median},
              {"p95", s.channel_absmax.p95},
              {"max", s.channel_absmax.max}}},
            {"histogram",
             {{"low", s.histogram.low}, {"high", s.histogram.high}, {"counts", s.histogram.counts}}}};
        if (layer.qsur) {
            const auto& q = *layer.qsur;
            j["qsur"] = {{"samples", q.samples},
                         {"dimension", q.dimension},
                         {"log10", number(q.log10_qsur)},
                         {"per_dimension", number(q.per_dimension)},
                         {"log10_rotated", number(q.log10_qsur_rotated)},
                         {"per_dimension_rotated", number(q.per_dimension_rotated)},
                         {"log10_principal_axes", number(q.log10_qsur_principal_axes)},
                         {"per_dimension_principal_axes", number(q.per_dimension_principal_axes)},
                         {"rank_deficient", q.rank_deficient},
                         {"floored_eigenvalues", q.floored_eigenvalues}};
        } else {
            j["qsur"] = nullptr;
            if (!layer.qsur_skipped.empty())
                j["qsur_skipped"] = layer.qsur_skipped;
        }
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
                if (outcome.failed)
                    q["failed"] = true;
            }
            j["quantization"].push_back(std::move(q));
        }
        out["layers"].push_back(std::move(j));
    }
    nlohmann::ordered_json matrix = nlohmann::ordered_json::array();
    for (const auto& row : report.agreement.spearman) {
        nlohmann::ordered_json values = nlohmann::ordered_json::array();
        for (double rho : row)
            values.push_back(number(rho));
        matrix.push_back(std::move(values));
    }
    out["agreement"] = {
        {"method", "spearman"}, {"metrics", report.agreement.metrics}, {"rho", std::move(matrix)}};
    return out;
}

std::string to_csv(const AnalysisReport& report) {
    std::string out =
        "layer,kind,parameters,mean,std,absmax,sparsity,skewness,excess_kurtosis,max_to_mean,outlier_"
        "fraction,channel_kurtosis_p95,"
        "log10_qsur,qsur_per_dimension,qsur_per_dimension_rotated,qsur_per_dimension_principal_axes";
    for (const auto& spec : report.specs)
        out += ",mse:" + spec.to_string() + ",sqnr_db:" + spec.to_string() +
               ",bits_per_weight:" + spec.to_string();
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
            for (char c : name)
                quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
            name = quoted + "\"";
        }
        out += name + "," + std::string(layer_kind_name(layer.kind)) + "," + std::to_string(layer.parameters);
        if (!layer.error.empty()) {  // the columns stay empty; the JSON report says why
            out += std::string(13 + 3 * report.specs.size(), ',') + "\n";
            continue;
        }
        for (double v : {s.mean, s.std, s.absmax, s.sparsity, s.skewness, s.excess_kurtosis, s.max_to_mean,
                         s.outlier_fraction, s.channel_kurtosis.p95})
            add(v);
        if (layer.qsur) {
            add(layer.qsur->log10_qsur);
            add(layer.qsur->per_dimension);
            add(layer.qsur->per_dimension_rotated);
            add(layer.qsur->per_dimension_principal_axes);
        } else {
            out += ",,,,";
        }
        for (const auto& outcome : layer.quantization) {
            if (outcome.metrics) {
                add(outcome.metrics->mse);
                add(outcome.metrics->sqnr_db);
                add(outcome.metrics->bits_per_weight);
            } else
                out += ",,,";
        }
        out += "\n";
    }
    return out;
}

std::string to_table(const AnalysisReport& report) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-36s %-9s %11s %9s %9s %8s %8s %9s %9s %9s", "LAYER", "KIND", "PARAMS",
                  "KURTOSIS", "SKEW", "MMR", "OUTLIERS", "CH.KURT95", "QSUR^1/d", "ROTATED");
    out += line;
    const bool axes = std::any_of(report.layers.begin(), report.layers.end(), [](const LayerAnalysis& l) {
        return l.qsur && std::isfinite(l.qsur->per_dimension_principal_axes);
    });
    if (axes)
        out += "  PAPER^1/d";
    for (const auto& spec : report.specs) {
        std::snprintf(line, sizeof line, " %16.16s", (spec.to_string() + " dB").c_str());
        out += line;
    }
    out += "\n";
    for (const auto& layer : report.layers) {
        const auto& s = layer.statistics;
        if (!layer.error.empty()) {
            out += layer.layer + ": not analysed: " + layer.error + "\n";
            continue;
        }
        std::snprintf(line, sizeof line, "%-36.36s %-9s %11llu %9.3f %9.3f %8.2f %7.3f%% %9.3f",
                      layer.layer.c_str(), std::string(layer_kind_name(layer.kind)).c_str(),
                      static_cast<unsigned long long>(layer.parameters), s.excess_kurtosis, s.skewness,
                      s.max_to_mean, 100 * s.outlier_fraction, s.channel_kurtosis.p95);
        out += line;
        if (layer.qsur)
            std::snprintf(line, sizeof line, " %8.3g%s %9.3g", layer.qsur->per_dimension,
                          layer.qsur->rank_deficient ? "*" : " ", layer.qsur->per_dimension_rotated);
        else
            std::snprintf(line, sizeof line, " %9s %9s", layer.qsur_skipped.empty() ? "n/a" : "skipped",
                          "n/a");
        out += line;
        if (axes) {
            std::snprintf(line, sizeof line, " %10.3g",
                          layer.qsur ? layer.qsur->per_dimension_principal_axes : Qsur::nan);
            out += line;
        }
        for (const auto& outcome : layer.quantization) {
            if (outcome.metrics)
                std::snprintf(line, sizeof line, " %16.2f", outcome.metrics->sqnr_db);
            else
                std::snprintf(line, sizeof line, " %16s", outcome.failed ? "error" : "n/a");
            out += line;
        }
        out += "\n";
    }
    out +=
        "\nQSUR^1/d: per-dimension quantization space utilization (1 = the data fill the per-tensor range); "
        "ROTATED: after a\n"
        "randomized Hadamard rotation of the input dimension; * rank-deficient (fewer rows than inputs: "
        "eigenvalues floored).\n";
    if (axes)
        out +=
            "QSUR^1/d and ROTATED bound the confidence ellipsoid by its exact bounding box; PAPER^1/d is "
            "OSTQuant's own cube,\nspanned by the endpoints of the principal axes (docs/metrics.md §5).\n";
    for (const auto& layer : report.layers)
        if (!layer.qsur_skipped.empty())
            out += layer.layer + ": " + layer.qsur_skipped + "\n";
    if (report.cached_layers)
        out += std::to_string(report.cached_layers) + " of " + std::to_string(report.layers.size()) +
               " layers from the cache.\n";
    out += "\nSpearman rank correlation between per-layer metrics:\n";
    bool undefined = false;
    for (std::size_t i = 0; i < report.agreement.metrics.size(); ++i) {
        std::snprintf(line, sizeof line, "%-32.32s", report.agreement.metrics[i].c_str());
        out += line;
        for (double rho : report.agreement.spearman[i]) {
            if (std::isfinite(rho))
                std::snprintf(line, sizeof line, " %6.2f", rho);
            else
                std::snprintf(line, sizeof line, " %6s", "n/a");
            out += line;
            undefined = undefined || !std::isfinite(rho);
        }
        out += "\n";
    }
    if (undefined)
        out +=
            "n/a: no rank correlation is defined (fewer than two layers, or a metric equal on every "
            "layer).\n";
    return out;
}

}  // namespace quantlens

#pragma once
// A whole-model, weights-only analysis: per layer the statistics of stats/layer_statistics,
// QSUR and the quantization error of every spec asked for, then how the per-layer metrics
// agree (Spearman's rho between every pair). Layers are read one at a time, so memory stays
// at about one layer whatever the model's size. The work itself is done by Analysis
// (analysis.hpp), which also runs on a worker thread for the GUI.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/layer_analysis.hpp"

namespace quantlens {

struct MetricAgreement {
    std::vector<std::string> metrics;           // names of the per-layer series
    std::vector<std::vector<double>> spearman;  // rho[i][j]; NaN where undefined
};

struct AnalysisReport {
    std::string path, format, architecture;
    std::vector<QuantSpec> specs;
    std::vector<LayerAnalysis> layers;  // in the model's order
    MetricAgreement agreement;
    std::size_t cached_layers = 0;  // taken whole from the on-disk cache
};

AnalysisReport analyze_model(const Model& model, const AnalysisOptions& options,
                             const Progress& progress = {}, const CancelToken* cancel = nullptr);

// The per-layer metric series the report holds, over the layers that were analysed (in model
// order): the statistics, QSUR and each spec's MSE; a series some layer lacks is left out.
// What the GUI's sensitivity view plots and the agreement below ranks.
struct MetricSeries {
    std::vector<std::string> layers;
    std::vector<std::pair<std::string, std::vector<double>>> series;  // name, one value per layer
};
MetricSeries metric_series(const std::vector<LayerAnalysis>& layers, const std::vector<QuantSpec>& specs);

// Spearman's rho between every pair of per-layer series: the statistics, QSUR and each spec's
// MSE (a series some layer lacks is left out).
MetricAgreement metric_agreement(const AnalysisReport& report);

inline constexpr const char* kAnalysisSchema = "quantlens.analysis/1";
nlohmann::ordered_json to_json(const AnalysisReport& report);
std::string to_csv(const AnalysisReport& report);    // one row per layer
std::string to_table(const AnalysisReport& report);  // for terminals

}  // namespace quantlens

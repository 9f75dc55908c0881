#pragma once
// A whole-model, weights-only analysis: per layer the statistics of stats/layer_statistics
// and the quantization error of every spec asked for, then how the per-layer metrics agree
// (Spearman's rho between every pair). Layers are read one at a time, so memory stays at
// about one layer whatever the model's size.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.hpp"
#include "quant/comparison.hpp"
#include "stats/layer_statistics.hpp"

namespace quantlens {

struct LayerAnalysis {
    std::string layer;
    LayerKind kind = LayerKind::Other;
    std::vector<std::int64_t> shape;  // output channels first
    std::uint64_t parameters = 0;
    LayerStatistics statistics;
    std::vector<SpecOutcome> quantization;  // one per spec
};

struct MetricAgreement {
    std::vector<std::string> metrics;          // names of the per-layer series
    std::vector<std::vector<double>> spearman;  // rho[i][j]; NaN where undefined
};

struct AnalysisOptions {
    std::vector<QuantSpec> specs;
    StatisticsOptions statistics;
    std::string first_layer;  // analysed before the others (the one on screen); report order stays the model's
};

struct AnalysisReport {
    std::string path, format, architecture;
    std::vector<QuantSpec> specs;
    std::vector<LayerAnalysis> layers;
    MetricAgreement agreement;
};

AnalysisReport analyze_model(const Model& model, const AnalysisOptions& options, const Progress& progress = {}, const CancelToken* cancel = nullptr);

inline constexpr const char* kAnalysisSchema = "quantlens.analysis/1";
nlohmann::ordered_json to_json(const AnalysisReport& report);
std::string to_csv(const AnalysisReport& report);   // one row per layer
std::string to_table(const AnalysisReport& report);  // for terminals

}  // namespace quantlens

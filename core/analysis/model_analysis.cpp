#include "analysis/model_analysis.hpp"

#include "analysis/analysis.hpp"
#include "stats/rank_correlation.hpp"

namespace quantlens {

AnalysisReport analyze_model(const Model& model, const AnalysisOptions& options, const Progress& progress,
                             const CancelToken* cancel) {
    // Not owned: the caller's model outlives this call.
    Analysis analysis(std::shared_ptr<const Model>(&model, [](const Model*) {}), options);
    analysis.run(progress, {}, cancel);
    return analysis.wait();
}

MetricSeries metric_series(const std::vector<LayerAnalysis>& layers, const std::vector<QuantSpec>& specs) {
    std::vector<const LayerAnalysis*> analysed;  // layers that could not be read take no part
    MetricSeries result;
    for (const auto& layer : layers)
        if (layer.error.empty()) {
            analysed.push_back(&layer);
            result.layers.push_back(layer.layer);
        }
    auto& series = result.series;
    series = {{"excess_kurtosis", {}},
              {"skewness", {}},
              {"max_to_mean", {}},
              {"outlier_fraction", {}},
              {"channel_kurtosis_p95", {}}};
    for (const auto* layer : analysed) {
        const auto& s = layer->statistics;
        series[0].second.push_back(s.excess_kurtosis);
        series[1].second.push_back(s.skewness);
        series[2].second.push_back(s.max_to_mean);
        series[3].second.push_back(s.outlier_fraction);
        series[4].second.push_back(s.channel_kurtosis.p95);
    }
    auto add_if_complete = [&](std::string name, auto value_of) {  // a series some layer lacks is left out
        std::vector<double> values;
        for (const auto* layer : analysed) {
            auto value = value_of(*layer);
            if (!value)
                return;
            values.push_back(*value);
        }
        if (!values.empty())
            series.emplace_back(std::move(name), std::move(values));
    };
    add_if_complete("qsur_per_dimension", [](const LayerAnalysis& l) {
        return l.qsur ? std::optional(l.qsur->per_dimension) : std::nullopt;
    });
    add_if_complete("qsur_per_dimension_principal_axes", [](const LayerAnalysis& l) {
        return l.qsur && std::isfinite(l.qsur->per_dimension_principal_axes)
                   ? std::optional(l.qsur->per_dimension_principal_axes)
                   : std::nullopt;
    });
    for (std::size_t k = 0; k < specs.size(); ++k)
        add_if_complete("mse:" + specs[k].to_string(), [k](const LayerAnalysis& l) {
            return k < l.quantization.size() && l.quantization[k].metrics
                       ? std::optional(l.quantization[k].metrics->mse)
                       : std::nullopt;
        });
    return result;
}

MetricAgreement metric_agreement(const AnalysisReport& report) {
    const auto series = metric_series(report.layers, report.specs).series;
    MetricAgreement agreement;
    for (const auto& [name, values] : series)
        agreement.metrics.push_back(name);
    for (const auto& [a_name, a] : series) {
        std::vector<double> row;
        for (const auto& [b_name, b] : series)
            row.push_back(spearman(a, b));
        agreement.spearman.push_back(std::move(row));
    }
    return agreement;
}

}  // namespace quantlens

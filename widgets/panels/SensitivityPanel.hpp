#pragma once
// Per-layer sensitivity along the model's depth: a bar chart of any per-layer metric of the
// analysis (in model order, so early and late layers read left to right), and a scatter of
// any two metrics against each other with their Spearman ρ, to see which metrics agree on
// which layers are sensitive. The series come from the core (metric_series); ρ from spearman().
#include <QWidget>

#include "analysis/model_analysis.hpp"

class QComboBox;
class QCustomPlot;
class QLabel;

namespace quantlens::widgets {

class SensitivityPanel : public QWidget {
    Q_OBJECT
public:
    explicit SensitivityPanel(QWidget* parent = nullptr);
    void setSeries(quantlens::MetricSeries series);
    void setBarMetric(const QString& name);
    void setScatterMetrics(const QString& x, const QString& y);

    QCustomPlot* barPlot() const { return bars_; }
    QCustomPlot* scatterPlot() const { return scatter_; }
    double shownSpearman() const { return rho_; }  // of the scatter on screen (NaN when undefined)

private:
    void drawBars();
    void drawScatter();
    const std::vector<double>* values(const QString& name) const;

    quantlens::MetricSeries series_;
    QComboBox* barMetric_;
    QComboBox* xMetric_;
    QComboBox* yMetric_;
    QLabel* rhoLabel_;
    QCustomPlot* bars_;
    QCustomPlot* scatter_;
    double rho_ = 0;
};

}  // namespace quantlens::widgets

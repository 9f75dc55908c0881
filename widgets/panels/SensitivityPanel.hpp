#pragma once
// Per-layer sensitivity along the model's depth: a bar chart of any per-layer metric of the
// analysis (in model order, so early and late layers read left to right), and a scatter of
// any two metrics against each other with their Spearman ρ, to see which metrics agree on
// which layers are sensitive. The series come from the core (metric_series, and the model-based
// sensitivity_series); ρ from spearman() over the layers that have both values.
#include <QWidget>

#include <map>
#include <string>

#include "analysis/model_analysis.hpp"
#include "sensitivity/hessian_trace.hpp"

class QComboBox;
class QCheckBox;
class QDoubleSpinBox;
class QSpinBox;
class QCustomPlot;
class QLabel;
class QPushButton;

namespace quantlens::widgets {

class PlotPicker;

class SensitivityPanel : public QWidget {
    Q_OBJECT
public:
    explicit SensitivityPanel(QWidget* parent = nullptr);
    void setSeries(quantlens::MetricSeries series);
    // A model-based series (Hessian traces, measured Δloss, …) by layer name; it joins the
    // weights-only ones when at least two plotted layers have a value (the others show none).
    // Kept until the model changes (clearExtraSeries).
    void setExtraSeries(const std::string& name, const std::map<std::string, double>& values);
    void clearExtraSeries();
    // The line under the buttons: how each predictor ranks against the measured Δloss.
    void setAgreementText(const QString& html);
    QString agreementText() const;
    QPushButton* modelMetricsButton() const { return runModel_; }
    // Calibration data chosen ahead (the app's --calib): the button runs the model metrics on it
    // at once, and a second button picks other data. Empty: the button asks for a file.
    void setCalibration(const QString& path);
    QString calibration() const { return calibration_; }
    // The spec the model metrics quantize with (the Quantize view's), shown beside the button.
    void setMetricsSpec(const QString& spec);
    // The Hutchinson budget the next run uses: at most so many vectors per layer, stopping
    // earlier once the running mean moves by less than the tolerance (relative); joint: each
    // vector over every parameter, one product giving every layer's sample.
    quantlens::HutchinsonOptions hutchinsonBudget() const;
    void setHutchinsonBudget(int maxSamples, double tolerance, bool joint = false);
    void setBarMetric(const QString& name);
    void setScatterMetrics(const QString& x, const QString& y);

    QCustomPlot* barPlot() const { return bars_; }
    QCustomPlot* scatterPlot() const { return scatter_; }
    PlotPicker* barPicker() const { return barPicker_; }
    PlotPicker* scatterPicker() const { return scatterPicker_; }
    double shownSpearman() const { return rho_; }  // of the scatter on screen (NaN when undefined)
    // A series the plots can show, by name (weights-only or model-based); null when there is none.
    const std::vector<double>* values(const QString& name) const;

signals:
    void modelMetricsRequested();                     // with data to be chosen
    void modelMetricsOn(const QString& calibration);  // with the data chosen ahead
    void layerClicked(const QString& layer);          // on a bar or a point

private:
    void drawBars();
    void drawScatter();

    quantlens::MetricSeries series_;
    std::vector<std::pair<std::string, std::map<std::string, double>>> extra_;
    QComboBox* barMetric_;
    QComboBox* xMetric_;
    QComboBox* yMetric_;
    QLabel* rhoLabel_;
    QLabel* agreement_;
    QCustomPlot* bars_;
    QCustomPlot* scatter_;
    PlotPicker* barPicker_;
    QPushButton* otherData_;
    QLabel* metricsSpec_;
    QString calibration_;
    PlotPicker* scatterPicker_;
    QPushButton* runModel_;
    QSpinBox* hutchinsonSamples_;
    QDoubleSpinBox* hutchinsonTolerance_;
    QCheckBox* hutchinsonJoint_;
    double rho_ = 0;
};

}  // namespace quantlens::widgets

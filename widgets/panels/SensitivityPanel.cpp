#include "panels/SensitivityPanel.hpp"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QCheckBox>
#include <QDoubleSpinBox>
#include <QSpinBox>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <cmath>

#include "plots/PlotPicker.hpp"
#include "plots/PlotStyle.hpp"
#include "stats/rank_correlation.hpp"

namespace quantlens::widgets {

namespace {

QString label(const std::string& name) {
    static const std::map<std::string, QString> kLabels = {
        {"excess_kurtosis", QObject::tr("excess kurtosis")},
        {"skewness", QObject::tr("skewness")},
        {"max_to_mean", QObject::tr("max / mean |w|")},
        {"outlier_fraction", QObject::tr("outlier fraction")},
        {"channel_kurtosis_p95", QObject::tr("channel kurtosis p95")},
        {"qsur_per_dimension", QObject::tr("QSUR^(1/d), bounding box")},
        {"qsur_per_dimension_principal_axes", QObject::tr("QSUR^(1/d), OSTQuant's principal axes")},
        {"hessian_trace", QObject::tr("Hessian trace (Hutchinson)")},
        {"hessian_trace_per_parameter", QObject::tr("Hessian trace / parameters")},
        {"hessian_omega", QObject::tr("HAWQ Ω (predicted)")},
        {"delta_loss", QObject::tr("Δloss, measured")},
        {"kl", QObject::tr("KL divergence, measured")},
        {"fisher", QObject::tr("Fisher–Taylor score")},
        {"proxy", QObject::tr("Tr(2XᵀX)-weighted error (proxy)")},
        {"lrp", QObject::tr("LRP contribution")},
        {"activation_kurtosis", QObject::tr("activation kurtosis")},
        {"activation_qsur", QObject::tr("activation QSUR^(1/d)")},
        {"activation_mmr", QObject::tr("activation max/median per row")}};
    const auto found = kLabels.find(name);
    return found != kLabels.end() ? found->second : QString::fromStdString(name);
}

}  // namespace

SensitivityPanel::SensitivityPanel(QWidget* parent)
    : QWidget(parent),
      barMetric_(new QComboBox),
      xMetric_(new QComboBox),
      yMetric_(new QComboBox),
      rhoLabel_(new QLabel),
      agreement_(new QLabel),
      bars_(new QCustomPlot),
      scatter_(new QCustomPlot),
      barPicker_(new PlotPicker(bars_)),
      scatterPicker_(new PlotPicker(scatter_)) {
    for (auto* picker : {barPicker_, scatterPicker_})
        connect(picker, &PlotPicker::layerClicked, this, &SensitivityPanel::layerClicked);
    runModel_ = new QPushButton(tr("Model metrics from calibration data…"));
    runModel_->setToolTip(
        tr("Runs the model on calibration data (x and y for a classifier; token ids or text for a language "
           "model) under the Quantize view's spec: each layer's Hessian trace and HAWQ Ω, "
           "LRP contribution, measured Δloss and KL with that layer alone quantized, Fisher–Taylor score and "
           "Tr(2XᵀX) proxy"));
    otherData_ = new QPushButton(tr("Other data…"));
    otherData_->hide();
    metricsSpec_ = new QLabel;
    connect(runModel_, &QPushButton::clicked, this, [this] {
        if (calibration_.isEmpty())
            emit modelMetricsRequested();
        else
            emit modelMetricsOn(calibration_);
    });
    connect(otherData_, &QPushButton::clicked, this, &SensitivityPanel::modelMetricsRequested);
    auto* layout = new QVBoxLayout(this);
    auto* barRow = new QHBoxLayout;
    barRow->addWidget(new QLabel(tr("Metric along depth")));
    barRow->addWidget(barMetric_, 1);
    layout->addLayout(barRow);
    auto* modelRow = new QHBoxLayout;  // its own row, so a narrow pane keeps the metric readable
    modelRow->addWidget(runModel_);
    modelRow->addWidget(otherData_);
    modelRow->addWidget(metricsSpec_);
    modelRow->addStretch(1);
    layout->addLayout(modelRow);
    // The Hessian traces' cost is the number of Rademacher vectors: a budget the user sets
    hutchinsonSamples_ = new QSpinBox;
    hutchinsonSamples_->setRange(2, 100000);
    hutchinsonSamples_->setValue(quantlens::HutchinsonOptions{}.max_samples);
    hutchinsonSamples_->setToolTip(tr(
        "Hutchinson's estimate of each layer's Hessian trace draws at most this many Rademacher vectors; "
        "each costs one exact Hessian-vector product from that layer on (about three gradients' time). 100 "
        "is PyHessian's default"));
    hutchinsonTolerance_ = new QDoubleSpinBox;
    hutchinsonTolerance_->setDecimals(5);
    hutchinsonTolerance_->setRange(0, 1);
    hutchinsonTolerance_->setSingleStep(0.001);
    hutchinsonTolerance_->setValue(quantlens::HutchinsonOptions{}.tolerance);
    hutchinsonTolerance_->setToolTip(
        tr("A layer's estimate stops early once its running mean moves by less than this, relative to the "
           "previous mean (PyHessian's rule; 0 draws every vector)"));
    auto* budgetRow = new QHBoxLayout;
    budgetRow->addWidget(new QLabel(tr("Hessian traces: ≤")));
    budgetRow->addWidget(hutchinsonSamples_);
    budgetRow->addWidget(new QLabel(tr("vectors per layer, tolerance")));
    budgetRow->addWidget(hutchinsonTolerance_);
    hutchinsonJoint_ = new QCheckBox(tr("joint"));
    hutchinsonJoint_->setToolTip(tr(
        "Draw each vector over every parameter: one product over the whole network gives a sample of every "
        "layer's trace at once (unbiased; noisier samples, as the standard errors show). As many times fewer "
        "products as there are layers: the practical choice for large models"));
    budgetRow->addWidget(hutchinsonJoint_);
    budgetRow->addStretch(1);
    layout->addLayout(budgetRow);
    agreement_->setWordWrap(true);
    agreement_->setTextFormat(Qt::RichText);
    agreement_->hide();
    layout->addWidget(agreement_);
    layout->addWidget(bars_, 1);
    auto* scatterRow = new QHBoxLayout;
    scatterRow->addWidget(new QLabel(tr("Scatter")));
    scatterRow->addWidget(xMetric_, 1);
    scatterRow->addWidget(new QLabel(tr("against")));
    scatterRow->addWidget(yMetric_, 1);
    scatterRow->addWidget(rhoLabel_);
    layout->addLayout(scatterRow);
    layout->addWidget(scatter_, 1);
    for (auto* plot : {bars_, scatter_}) {
        plot->setMinimumSize(300, 200);
        style_plot(plot, palette());
    }
    bars_->xAxis->setLabel(tr("layer (model order)"));
    connect(barMetric_, &QComboBox::currentIndexChanged, this, &SensitivityPanel::drawBars);
    for (auto* box : {xMetric_, yMetric_})
        connect(box, &QComboBox::currentIndexChanged, this, &SensitivityPanel::drawScatter);
}

void SensitivityPanel::setExtraSeries(const std::string& name, const std::map<std::string, double>& values) {
    std::erase_if(extra_, [&](const auto& entry) { return entry.first == name; });
    extra_.emplace_back(name, values);
    setSeries(series_);
}

void SensitivityPanel::clearExtraSeries() {
    extra_.clear();
    setAgreementText({});
}

void SensitivityPanel::setCalibration(const QString& path) {
    calibration_ = path;
    runModel_->setText(path.isEmpty() ? tr("Model metrics from calibration data…")
                                      : tr("Model metrics on %1").arg(QFileInfo(path).fileName()));
    otherData_->setVisible(!path.isEmpty());
}

quantlens::HutchinsonOptions SensitivityPanel::hutchinsonBudget() const {
    quantlens::HutchinsonOptions options;
    options.max_samples = hutchinsonSamples_->value();
    options.tolerance = hutchinsonTolerance_->value();
    options.joint = hutchinsonJoint_->isChecked();
    return options;
}

void SensitivityPanel::setHutchinsonBudget(int maxSamples, double tolerance, bool joint) {
    hutchinsonSamples_->setValue(maxSamples);
    hutchinsonTolerance_->setValue(tolerance);
    hutchinsonJoint_->setChecked(joint);
}

void SensitivityPanel::setMetricsSpec(const QString& spec) {
    metricsSpec_->setText(tr("under <b>%1</b>").arg(spec.toHtmlEscaped()));
    metricsSpec_->setToolTip(
        tr("The spec the measured Δloss and KL quantize each layer with: the Quantize "
           "view's spec"));
}

void SensitivityPanel::setAgreementText(const QString& html) {
    agreement_->setText(html);
    agreement_->setVisible(!html.isEmpty());
}

QString SensitivityPanel::agreementText() const {
    return agreement_->text();
}

void SensitivityPanel::setSeries(quantlens::MetricSeries series) {
    const QString bar = barMetric_->currentData().toString(), x = xMetric_->currentData().toString(),
                  y = yMetric_->currentData().toString();
    std::erase_if(series.series, [&](const auto& entry) {
        for (const auto& [name, values] : extra_)
            if (entry.first == name)
                return true;
        return false;
    });
    for (const auto& [name, values] :
         extra_) {  // joins when two plotted layers have a value; NaN marks the others
        std::vector<double> column;
        std::size_t present = 0;
        for (const auto& layer : series.layers) {
            const auto found = values.find(layer);
            column.push_back(found != values.end() ? found->second : NAN);
            if (found != values.end())
                ++present;
        }
        if (present >= 2)
            series.series.emplace_back(name, std::move(column));
    }
    series_ = std::move(series);
    for (auto* box : {barMetric_, xMetric_, yMetric_}) {
        const QSignalBlocker block(box);
        box->clear();
        for (const auto& [name, values] : series_.series)
            box->addItem(label(name), QString::fromStdString(name));
    }
    auto restore = [](QComboBox* box, const QString& name, int fallback) {
        const int index = box->findData(name);
        const QSignalBlocker block(box);
        box->setCurrentIndex(index >= 0 ? index : std::min(fallback, box->count() - 1));
    };
    restore(barMetric_, bar, 0);
    restore(xMetric_, x, 0);
    restore(yMetric_, y.isEmpty() ? QStringLiteral("qsur_per_dimension") : y, 2);
    drawBars();
    drawScatter();
}

void SensitivityPanel::setBarMetric(const QString& name) {
    barMetric_->setCurrentIndex(barMetric_->findData(name));
}

void SensitivityPanel::setScatterMetrics(const QString& x, const QString& y) {
    xMetric_->setCurrentIndex(xMetric_->findData(x));
    yMetric_->setCurrentIndex(yMetric_->findData(y));
}

const std::vector<double>* SensitivityPanel::values(const QString& name) const {
    for (const auto& [series, values] : series_.series)
        if (QString::fromStdString(series) == name)
            return &values;
    return nullptr;
}

void SensitivityPanel::drawBars() {
    bars_->clearPlottables();
    const auto* shown = values(barMetric_->currentData().toString());
    if (!shown) {
        bars_->replot();
        return;
    }
    QVector<double> keys, heights;
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (std::size_t i = 0; i < shown->size(); ++i) {
        if (std::isfinite((*shown)[i])) {  // a layer the metric does not cover keeps its slot, with no bar
            keys.push_back(static_cast<double>(i));
            heights.push_back((*shown)[i]);
        }
        if (series_.layers.size() <= 48)  // long names shortened from the left; hovering a bar names it whole
            ticker->addTick(
                static_cast<double>(i),
                fontMetrics().elidedText(QString::fromStdString(series_.layers[i]), Qt::ElideLeft, 120));
    }
    std::vector<QString> names;
    for (const auto& layer : series_.layers)
        names.push_back(QString::fromStdString(layer));
    barPicker_->setBars(std::move(names), *shown);
    auto* bar = new QCPBars(bars_->xAxis, bars_->yAxis);
    bar->setData(keys, heights);
    bar->setPen(Qt::NoPen);
    bar->setBrush(palette().color(QPalette::Highlight));
    if (series_.layers.size() <= 48) {
        bars_->xAxis->setTicker(ticker);
        bars_->xAxis->setTickLabelRotation(90);  // each name under its own bar
    } else {
        bars_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        bars_->xAxis->setTickLabelRotation(0);
    }
    bars_->yAxis->setLabel(barMetric_->currentText());
    bars_->rescaleAxes();
    bars_->xAxis->setRange(-1, static_cast<double>(shown->size()));
    const auto range = bars_->yAxis->range();
    bars_->yAxis->setRange(std::min(0.0, range.lower * 1.1), std::max(0.0, range.upper * 1.1));
    bars_->replot();
}

void SensitivityPanel::drawScatter() {
    scatter_->clearGraphs();
    const auto* x = values(xMetric_->currentData().toString());
    const auto* y = values(yMetric_->currentData().toString());
    if (!x || !y) {
        rho_ = NAN;
        rhoLabel_->clear();
        scatter_->replot();
        return;
    }
    auto* graph = scatter_->addGraph();
    graph->setLineStyle(QCPGraph::lsNone);
    graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, palette().color(QPalette::Highlight), 8));
    std::vector<double> xs, ys;  // the layers with both values
    std::vector<QString> names;
    std::vector<QPointF> points;
    for (std::size_t i = 0; i < x->size(); ++i)
        if (std::isfinite((*x)[i]) && std::isfinite((*y)[i])) {
            xs.push_back((*x)[i]);
            ys.push_back((*y)[i]);
            graph->addData((*x)[i], (*y)[i]);
            names.push_back(QString::fromStdString(series_.layers[i]));
            points.emplace_back((*x)[i], (*y)[i]);
        }
    scatterPicker_->setPoints(std::move(names), std::move(points));
    rho_ = quantlens::spearman(xs, ys);
    const double p = quantlens::spearman_p_value(rho_, xs.size());
    rhoLabel_->setText(std::isnan(rho_) ? tr("Spearman ρ undefined (n = %1)").arg(xs.size())
                       : std::isnan(p)
                           ? tr("Spearman ρ = <b>%1</b> (n = %2)").arg(rho_, 0, 'f', 3).arg(xs.size())
                           : tr("Spearman ρ = <b>%1</b> (n = %2, p = %3%4)")
                                 .arg(rho_, 0, 'f', 3)
                                 .arg(xs.size())
                                 .arg(p, 0, 'g', 2)
                                 .arg(p >= 0.05 ? tr(": weak, could be chance") : QString()));
    rhoLabel_->setToolTip(
        tr("p: the chance of a |ρ| this large among n layers with no real association "
           "(Student's t on n − 2 degrees of freedom, as scipy.stats.spearmanr)"));
    scatter_->xAxis->setLabel(xMetric_->currentText());
    scatter_->yAxis->setLabel(yMetric_->currentText());
    scatter_->rescaleAxes();
    scatter_->xAxis->scaleRange(1.15);
    scatter_->yAxis->scaleRange(1.15);
    scatter_->replot();
}

}  // namespace quantlens::widgets

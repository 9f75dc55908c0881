#include "plots/HistogramPlot.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QToolButton>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "plots/PlotStyle.hpp"

namespace quantlens::widgets {

HistogramPlot::HistogramPlot(QWidget* parent)
    : QWidget(parent),
      plot_(new QCustomPlot(this)),
      log_(new QCheckBox(tr("Log count"))),
      range_(new QComboBox) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_, 1);
    // Every histogram has the same controls under it: log counts, the x range, and a reset.
    auto* controls = new QHBoxLayout;
    range_->addItem(tr("full range"));
    range_->addItem(tr("central 99.9%"));
    range_->setToolTip(
        tr("The central 99.9% leaves out the 0.05% most extreme values on each side, so the "
           "bulk of a heavy-tailed layer spreads over the bins"));
    range_->setEnabled(false);
    auto* reset = new QToolButton;
    reset->setText(tr("Reset zoom"));
    controls->addWidget(log_);
    controls->addWidget(range_);
    controls->addWidget(reset);
    controls->addStretch(1);
    layout->addLayout(controls);
    connect(log_, &QCheckBox::toggled, this, &HistogramPlot::setLogScale);
    connect(range_, &QComboBox::currentIndexChanged, this,
            [this](int index) { setXRange(index == 1 ? XRange::Central : XRange::Full); });
    connect(reset, &QToolButton::clicked, this, &HistogramPlot::resetZoom);
    bars_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars_->setPen(Qt::NoPen);
    bars_->setBrush(palette().color(QPalette::Highlight));
    bars_->setName(tr("weights"));
    levels_ = plot_->addGraph();
    levels_->setLineStyle(QCPGraph::lsImpulse);
    levels_->setPen(QPen(QColor(230, 126, 34, 150), 1));
    levels_->setName(tr("levels"));
    levels_->removeFromLegend();
    for (int i = 0; i < 2; ++i) {
        auto* line = new QCPItemStraightLine(plot_);
        line->setPen(QPen(QColor(192, 57, 43), 1.5, Qt::DashLine));
        line->setVisible(false);
        clipLines_.push_back(line);
    }
    plot_->legend->setVisible(false);
    plot_->legend->setBrush(QColor(255, 255, 255, 200));
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(
        0, 0,
        new QCPTextElement(plot_, tr("Select a layer"),
                           QFont(font().family(), font().pointSize() + 1, QFont::Bold)));
    plot_->xAxis->setLabel(tr("weight value"));
    plot_->yAxis->setLabel(tr("count"));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->axisRect()->setRangeZoom(Qt::Horizontal);
    plot_->axisRect()->setRangeDrag(Qt::Horizontal);
    style_plot(plot_, palette());
    setMinimumSize(320, 220);
}

void HistogramPlot::setHistogram(const quantlens::Histogram& histogram, const QString& title) {
    full_ = histogram;
    hasCentral_ = false;
    range_->setEnabled(centralOffered_);
    setTitle(title);
    showBars(histogram);
}

void HistogramPlot::setHistograms(const quantlens::Histogram& full, const quantlens::Histogram& central,
                                  const QString& title) {
    full_ = full;
    central_ = central;
    hasCentral_ = true;
    range_->setEnabled(true);
    setTitle(title);
    showBars(xRange() == XRange::Central ? central_ : full_);
}

void HistogramPlot::setXRange(XRange range) {
    if (range_->currentIndex() != (range == XRange::Central ? 1 : 0)) {
        range_->setCurrentIndex(range == XRange::Central ? 1 : 0);  // comes back here through the signal
        return;
    }
    if (hasCentral_)
        showBars(range == XRange::Central ? central_ : full_);
    emit xRangeChanged(range);
}

void HistogramPlot::offerCentralRange(bool offered) {
    centralOffered_ = offered;
    range_->setEnabled(offered || hasCentral_);
}

HistogramPlot::XRange HistogramPlot::xRange() const {
    return range_->currentIndex() == 1 ? XRange::Central : XRange::Full;
}

bool HistogramPlot::isLogScale() const {
    return plot_->yAxis->scaleType() == QCPAxis::stLogarithmic;
}

void HistogramPlot::resetZoom() {
    rescale();
}

void HistogramPlot::setTitle(const QString& title) {
    if (auto* heading = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0)))
        heading->setText(title);
}

void HistogramPlot::showBars(const quantlens::Histogram& histogram) {
    QVector<double> keys, values;
    for (std::size_t i = 0; i < histogram.counts.size(); ++i) {
        keys.push_back(histogram.bin_center(i));
        values.push_back(static_cast<double>(histogram.counts[i]));
    }
    bars_->setWidth(histogram.bin_width());
    bars_->setData(keys, values, true);
    rescale();
}

void HistogramPlot::rescale() {
    bars_->rescaleAxes();
    for (auto* overlay : overlays_)
        overlay->rescaleAxes(true);
    // The y range follows the bars (overlays of a few levels would dwarf them) unless there are none.
    double top = 1;
    for (auto it = bars_->data()->constBegin(); it != bars_->data()->constEnd(); ++it)
        top = std::max(top, it->value);
    if (bars_->data()->isEmpty())
        for (auto* overlay : overlays_)
            for (auto it = overlay->data()->constBegin(); it != overlay->data()->constEnd(); ++it)
                top = std::max(top, it->value);
    for (auto it = levels_->data()->begin(); it != levels_->data()->end(); ++it)
        it->value = top * 1.05;
    if (!clipLines_.empty() && clipLines_.front()->visible()) {
        auto range = plot_->xAxis->range();
        range.lower = std::min(range.lower, clip_.first - 0.02 * range.size());
        range.upper = std::max(range.upper, clip_.second + 0.02 * range.size());
        plot_->xAxis->setRange(range);
    }
    const bool log = plot_->yAxis->scaleType() == QCPAxis::stLogarithmic;
    plot_->yAxis->setRange(log ? 0.5 : 0, top * (log ? 2.0 : 1.15));
    plot_->replot();
}

void HistogramPlot::setLevels(const std::vector<float>& levels, float clipLow, float clipHigh) {
    QVector<double> keys, values;
    for (float level : levels) {
        keys.push_back(level);
        values.push_back(1);
    }
    levels_->setData(keys, values, false);
    levels_->setVisible(!levels.empty());
    clip_ = {clipLow, clipHigh};
    for (std::size_t i = 0; i < clipLines_.size(); ++i) {
        const double x = i == 0 ? clipLow : clipHigh;
        clipLines_[i]->point1->setCoords(x, 0);
        clipLines_[i]->point2->setCoords(x, 1);
        clipLines_[i]->setVisible(!levels.empty());
    }
    rescale();
}

void HistogramPlot::clearOverlays() {
    for (auto* overlay : overlays_)
        plot_->removeGraph(overlay);
    overlays_.clear();
    plot_->legend->setVisible(false);
    plot_->replot();
}

void HistogramPlot::addOverlay(const quantlens::Histogram& histogram, const QColor& color,
                               const QString& name) {
    auto* graph = plot_->addGraph();
    graph->setLineStyle(QCPGraph::lsStepCenter);
    graph->setPen(QPen(color, 1.6));
    graph->setName(name);
    QVector<double> keys, values;
    for (std::size_t i = 0; i < histogram.counts.size(); ++i) {
        keys.push_back(histogram.bin_center(i));
        values.push_back(static_cast<double>(histogram.counts[i]));
    }
    graph->setData(keys, values, true);
    overlays_.push_back(graph);
    plot_->legend->setVisible(true);
    rescale();
}

void HistogramPlot::setAxisLabel(const QString& label) {
    plot_->xAxis->setLabel(label);
}

QVector<double> HistogramPlot::levelPositions() const {
    QVector<double> keys;
    if (!levels_->visible())
        return keys;
    for (auto it = levels_->data()->constBegin(); it != levels_->data()->constEnd(); ++it)
        keys.push_back(it->key);
    return keys;
}

void HistogramPlot::clear(const QString& message) {
    bars_->data()->clear();
    levels_->data()->clear();
    for (auto* line : clipLines_)
        line->setVisible(false);
    if (auto* heading = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0)))
        heading->setText(message);
    plot_->replot();
}

void HistogramPlot::setLogScale(bool log) {
    if (log_->isChecked() != log)
        log_->setChecked(log);  // the box shows the state however it was set
    plot_->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    plot_->yAxis->setTicker(log ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog)
                                : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    rescale();
}

QVector<double> HistogramPlot::barValues() const {
    QVector<double> values;
    for (auto it = bars_->data()->constBegin(); it != bars_->data()->constEnd(); ++it)
        values.push_back(it->value);
    return values;
}

}  // namespace quantlens::widgets

#include "plots/HistogramPlot.hpp"

#include <QVBoxLayout>
#include <qcustomplot.h>

namespace quantlens::widgets {

HistogramPlot::HistogramPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    bars_ = new QCPBars(plot_->xAxis, plot_->yAxis);
    bars_->setPen(Qt::NoPen);
    bars_->setBrush(palette().color(QPalette::Highlight));
    plot_->plotLayout()->insertRow(0);
    plot_->plotLayout()->addElement(0, 0, new QCPTextElement(plot_, tr("Select a layer"), QFont(font().family(), font().pointSize() + 1, QFont::Bold)));
    plot_->xAxis->setLabel(tr("weight value"));
    plot_->yAxis->setLabel(tr("count"));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->axisRect()->setRangeZoom(Qt::Horizontal);
    plot_->axisRect()->setRangeDrag(Qt::Horizontal);
    const QColor text = palette().color(QPalette::WindowText), base = palette().color(QPalette::Base);
    plot_->setBackground(base);
    for (auto* axis : {plot_->xAxis, plot_->yAxis}) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
    }
    setMinimumSize(320, 220);
}

void HistogramPlot::setHistogram(const quantlens::Histogram& histogram, const QString& title) {
    QVector<double> keys, values;
    for (std::size_t i = 0; i < histogram.counts.size(); ++i) {
        keys.push_back(histogram.bin_center(i));
        values.push_back(static_cast<double>(histogram.counts[i]));
    }
    bars_->setWidth(histogram.bin_width());
    bars_->setData(keys, values, true);
    if (auto* heading = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0))) {
        heading->setText(title);
        heading->setTextColor(palette().color(QPalette::WindowText));
    }
    plot_->rescaleAxes();
    plot_->yAxis->setRangeLower(plot_->yAxis->scaleType() == QCPAxis::stLogarithmic ? 0.5 : 0);
    plot_->replot();
}

void HistogramPlot::clear(const QString& message) {
    bars_->data()->clear();
    if (auto* heading = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0))) heading->setText(message);
    plot_->replot();
}

void HistogramPlot::setLogScale(bool log) {
    plot_->yAxis->setScaleType(log ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    plot_->yAxis->setTicker(log ? QSharedPointer<QCPAxisTicker>(new QCPAxisTickerLog) : QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    plot_->rescaleAxes();
    plot_->yAxis->setRangeLower(log ? 0.5 : 0);
    plot_->replot();
}

QVector<double> HistogramPlot::barValues() const {
    QVector<double> values;
    for (auto it = bars_->data()->constBegin(); it != bars_->data()->constEnd(); ++it) values.push_back(it->value);
    return values;
}

}  // namespace quantlens::widgets

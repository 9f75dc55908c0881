#include "plots/HeatmapPlot.hpp"

#include <QVBoxLayout>
#include <qcustomplot.h>

#include "plots/PlotStyle.hpp"

namespace quantlens::widgets {

HeatmapPlot::HeatmapPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    map_ = new QCPColorMap(plot_->xAxis, plot_->yAxis);
    auto* scale = new QCPColorScale(plot_);
    plot_->plotLayout()->addElement(0, 1, scale);
    scale->setType(QCPAxis::atRight);
    map_->setColorScale(scale);
    map_->setGradient(QCPColorGradient::gpThermal);
    map_->setInterpolate(false);
    plot_->xAxis->setLabel(tr("input column"));
    plot_->yAxis->setLabel(tr("output channel"));
    plot_->yAxis->setRangeReversed(true);  // channel 0 on top, as a matrix reads
    style_plot(plot_, palette());
    scale->axis()->setTickLabelColor(palette().color(QPalette::WindowText));
    scale->axis()->setLabelColor(palette().color(QPalette::WindowText));
    scale->axis()->setLabel(tr("MSE"));
    auto* margins = new QCPMarginGroup(plot_);
    plot_->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    setMinimumSize(300, 180);
}

void HeatmapPlot::setMatrix(const std::vector<double>& values, std::int64_t rows, std::int64_t cols,
                            double rowStep, double colStep, const QString& title) {
    map_->data()->setSize(static_cast<int>(cols), static_cast<int>(rows));
    map_->data()->setRange(QCPRange(colStep / 2, colStep * (static_cast<double>(cols) - 0.5)),
                           QCPRange(rowStep / 2, rowStep * (static_cast<double>(rows) - 0.5)));
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            map_->data()->setCell(static_cast<int>(c), static_cast<int>(r),
                                  values[static_cast<std::size_t>(r * cols + c)]);
    map_->rescaleDataRange(true);
    map_->setName(title);
    plot_->rescaleAxes();
    plot_->replot();
}

void HeatmapPlot::clear() {
    map_->data()->clear();
    plot_->replot();
}

QSize HeatmapPlot::cells() const {
    return {map_->data()->keySize(), map_->data()->valueSize()};
}

}  // namespace quantlens::widgets

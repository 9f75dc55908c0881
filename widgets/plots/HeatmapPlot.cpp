#include "plots/HeatmapPlot.hpp"

#include <QVBoxLayout>

#include <algorithm>
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
    // QCPColorMap spans its cells' centres and sizes a cell from the distance between centres,
    // so a single row or column of cells would be drawn zero wide. Such a dimension is given two
    // half cells holding the same value, whose centres are a quarter of the cell from its edges.
    const int keyCells = static_cast<int>(std::max<std::int64_t>(cols, 2)),
              valueCells = static_cast<int>(std::max<std::int64_t>(rows, 2));
    const auto centres = [](std::int64_t cells, double step) {
        return cells == 1 ? QCPRange(step / 4, 3 * step / 4)
                          : QCPRange(step / 2, step * (static_cast<double>(cells) - 0.5));
    };
    map_->data()->setSize(keyCells, valueCells);
    map_->data()->setRange(centres(cols, colStep), centres(rows, rowStep));
    for (int r = 0; r < valueCells; ++r)
        for (int c = 0; c < keyCells; ++c) {
            const auto row = std::min<std::int64_t>(r, rows - 1), col = std::min<std::int64_t>(c, cols - 1);
            map_->data()->setCell(c, r, values[static_cast<std::size_t>(row * cols + col)]);
        }
    cells_ = QSize(static_cast<int>(cols), static_cast<int>(rows));
    map_->rescaleDataRange(true);
    map_->setName(title);
    plot_->rescaleAxes();
    plot_->replot();
}

void HeatmapPlot::clear() {
    map_->data()->clear();
    cells_ = {};
    plot_->replot();
}

QRectF HeatmapPlot::drawnExtent() const {
    // Centres span keyRange; a cell reaches half the centre spacing beyond them.
    const auto* data = map_->data();
    if (data->keySize() < 2 || data->valueSize() < 2)
        return {};
    const double halfKey = data->keyRange().size() / (2.0 * (data->keySize() - 1)),
                 halfValue = data->valueRange().size() / (2.0 * (data->valueSize() - 1));
    return QRectF(data->keyRange().lower - halfKey, data->valueRange().lower - halfValue,
                  data->keyRange().size() + 2 * halfKey, data->valueRange().size() + 2 * halfValue);
}

}  // namespace quantlens::widgets

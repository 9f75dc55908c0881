#include "plots/ChannelPlot.hpp"

#include <QVBoxLayout>
#include <qcustomplot.h>

#include "plots/PlotStyle.hpp"

namespace quantlens::widgets {

ChannelPlot::ChannelPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(plot_);
    high_ = plot_->addGraph();
    low_ = plot_->addGraph();
    const QColor band = palette().color(QPalette::Highlight);
    high_->setPen(QPen(band.darker(110), 1));
    low_->setPen(QPen(band.darker(110), 1));
    high_->setBrush(QColor(band.red(), band.green(), band.blue(), 90));
    high_->setChannelFillGraph(low_);
    high_->setName(tr("weight range"));
    low_->removeFromLegend();
    error_ = plot_->addGraph(plot_->xAxis, plot_->yAxis2);
    error_->setPen(QPen(QColor(192, 57, 43), 1.2));
    error_->setName(tr("error RMSE (right)"));
    plot_->yAxis2->setVisible(true);
    plot_->xAxis->setLabel(tr("output channel"));
    plot_->yAxis->setLabel(tr("weight"));
    plot_->yAxis2->setLabel(tr("RMSE"));
    plot_->legend->setVisible(true);
    plot_->legend->setFont(QFont(font().family(), font().pointSize() - 1));
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    style_plot(plot_, palette());
    setMinimumSize(300, 180);
}

void ChannelPlot::setChannels(const std::vector<float>& low, const std::vector<float>& high,
                              const std::vector<double>& rmse) {
    QVector<double> keys, lows, highs, errors;
    for (std::size_t i = 0; i < low.size(); ++i) {
        keys.push_back(static_cast<double>(i));
        lows.push_back(low[i]);
        highs.push_back(high[i]);
        errors.push_back(i < rmse.size() ? rmse[i] : 0);
    }
    low_->setData(keys, lows, true);
    high_->setData(keys, highs, true);
    error_->setData(keys, errors, true);
    plot_->rescaleAxes();
    plot_->yAxis2->setRangeLower(0);
    plot_->replot();
}

void ChannelPlot::clear() {
    for (auto* graph : {low_, high_, error_})
        graph->data()->clear();
    plot_->replot();
}

int ChannelPlot::channelCount() const {
    return high_->dataCount();
}

}  // namespace quantlens::widgets

#include "plots/PlotPicker.hpp"

#include <QToolTip>
#include <cmath>
#include <qcustomplot.h>

namespace quantlens::widgets {

namespace {
constexpr double kPickRadius = 8;  // pixels from a point that still pick it
}

PlotPicker::PlotPicker(QCustomPlot* plot) : QObject(plot), plot_(plot) {
    plot_->setMouseTracking(true);
    connect(plot_, &QCustomPlot::mouseMove, this, &PlotPicker::hover);
    connect(plot_, &QCustomPlot::mousePress, this, &PlotPicker::press);
}

void PlotPicker::setBars(std::vector<QString> layers, std::vector<double> values) {
    layers_ = std::move(layers);
    bars_ = std::move(values);
    points_.clear();
}

void PlotPicker::setPoints(std::vector<QString> layers, std::vector<QPointF> points) {
    layers_ = std::move(layers);
    points_ = std::move(points);
    bars_.clear();
}

void PlotPicker::clear() {
    layers_.clear();
    bars_.clear();
    points_.clear();
}

std::optional<QString> PlotPicker::layerAt(QPointF pixel) const {
    if (!plot_->axisRect()->rect().contains(pixel.toPoint()))
        return std::nullopt;
    auto* x = plot_->xAxis;
    auto* y = plot_->yAxis;
    if (!bars_.empty()) {
        const double key = x->pixelToCoord(pixel.x()), value = y->pixelToCoord(pixel.y());
        const auto i = static_cast<long>(std::lround(key));
        if (i < 0 || i >= static_cast<long>(bars_.size()) || std::fabs(key - static_cast<double>(i)) > 0.4)
            return std::nullopt;
        const double height = bars_[static_cast<std::size_t>(i)];
        // Within the bar, or anywhere in the column of a bar too short to aim at.
        const bool inside = value * (value - height) <= 0;
        const bool tooShort = std::fabs(y->coordToPixel(height) - y->coordToPixel(0)) <= kPickRadius;
        if (!std::isfinite(height) || !(inside || tooShort))
            return std::nullopt;
        return layers_[static_cast<std::size_t>(i)];
    }
    std::optional<QString> nearest;
    double best = kPickRadius * kPickRadius;
    for (std::size_t i = 0; i < points_.size(); ++i) {
        const double dx = x->coordToPixel(points_[i].x()) - pixel.x(),
                     dy = y->coordToPixel(points_[i].y()) - pixel.y();
        if (dx * dx + dy * dy <= best) {
            best = dx * dx + dy * dy;
            nearest = layers_[i];
        }
    }
    return nearest;
}

void PlotPicker::hover(QMouseEvent* event) {
    if (const auto layer = layerAt(event->position()))
        QToolTip::showText(event->globalPosition().toPoint(),
                           *layer + tr("\nclick to select it in the table"), plot_);
    else
        QToolTip::hideText();
}

void PlotPicker::press(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton)
        return;
    if (const auto layer = layerAt(event->position()))
        emit layerClicked(*layer);
}

}  // namespace quantlens::widgets

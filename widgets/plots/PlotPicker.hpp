#pragma once
// Names the layer under the mouse on a per-layer plot (a bar per layer, or a point per layer)
// in a tooltip, and reports a click on it, so a figure on a chart can be found in the table.
#include <QObject>
#include <QPointF>
#include <QString>
#include <optional>
#include <vector>

class QCustomPlot;
class QMouseEvent;

namespace quantlens::widgets {

class PlotPicker : public QObject {
    Q_OBJECT
public:
    explicit PlotPicker(QCustomPlot* plot);
    // Bar i stands at key i, from 0 to values[i]; a layer without a bar has a NaN value.
    void setBars(std::vector<QString> layers, std::vector<double> values);
    // One point per layer, in the axes' coordinates.
    void setPoints(std::vector<QString> layers, std::vector<QPointF> points);
    void clear();
    // The layer drawn under a pixel of the plot's widget, if any.
    std::optional<QString> layerAt(QPointF pixel) const;

signals:
    void layerClicked(const QString& layer);

private:
    void hover(QMouseEvent* event);
    void press(QMouseEvent* event);

    QCustomPlot* plot_;
    std::vector<QString> layers_;
    std::vector<double> bars_;
    std::vector<QPointF> points_;
};

}  // namespace quantlens::widgets

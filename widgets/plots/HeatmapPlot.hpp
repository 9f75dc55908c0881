#pragma once
// A matrix of values as a colour map with a colour scale (the quantization error per output
// channel and group of a layer).
#include <QRectF>
#include <QSize>
#include <QWidget>

#include <cstdint>
#include <vector>

class QCustomPlot;
class QCPColorMap;

namespace quantlens::widgets {

class HeatmapPlot : public QWidget {
    Q_OBJECT
public:
    explicit HeatmapPlot(QWidget* parent = nullptr);
    // rows × cols values, row-major; each cell spans `rowStep` rows and `colStep` columns of the
    // axes' units (so the axes read in channels and input columns).
    void setMatrix(const std::vector<double>& values, std::int64_t rows, std::int64_t cols, double rowStep,
                   double colStep, const QString& title);
    void clear();
    QCustomPlot* plot() const { return plot_; }
    QSize cells() const { return cells_; }  // as given to setMatrix
    // The area the cells cover on the axes as QCustomPlot draws them: setMatrix's
    // cols·colStep by rows·rowStep from the origin, however few the cells.
    QRectF drawnExtent() const;

private:
    QCustomPlot* plot_;
    QCPColorMap* map_;
    QSize cells_;
};

}  // namespace quantlens::widgets

#pragma once
// Thin QCustomPlot wrapper drawing a core Histogram as bars, with a linear/log y axis.
#include <QWidget>

#include <vector>

#include "stats/histogram.hpp"

class QCustomPlot;
class QCPBars;
class QCPGraph;
class QCPItemStraightLine;

namespace quantlens::widgets {

class HistogramPlot : public QWidget {
    Q_OBJECT
public:
    explicit HistogramPlot(QWidget* parent = nullptr);
    void setHistogram(const quantlens::Histogram& histogram, const QString& title);
    void clear(const QString& message);
    void setLogScale(bool log);
    // A quantizer's representable values drawn over the bars as thin lines, and its clipping
    // range as two dashed ones (empty levels: none).
    void setLevels(const std::vector<float>& levels, float clipLow, float clipHigh);
    // Further histograms drawn as step lines over the bars (a dequantized distribution, the
    // specs of a comparison), with a legend.
    void clearOverlays();
    void addOverlay(const quantlens::Histogram& histogram, const QColor& color, const QString& name);
    void setAxisLabel(const QString& label);
    QCustomPlot* plot() const { return plot_; }
    // What is drawn (for tests).
    QVector<double> barValues() const;
    QVector<double> levelPositions() const;
    QPair<double, double> clipRange() const { return clip_; }
    int overlayCount() const { return static_cast<int>(overlays_.size()); }

private:
    void rescale();

    QCustomPlot* plot_;
    QCPBars* bars_;
    QCPGraph* levels_;
    std::vector<QCPGraph*> overlays_;
    std::vector<QCPItemStraightLine*> clipLines_;
    QPair<double, double> clip_{0, 0};
};

}  // namespace quantlens::widgets

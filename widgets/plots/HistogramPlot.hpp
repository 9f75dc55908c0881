#pragma once
// Thin QCustomPlot wrapper drawing a core Histogram as bars, with a linear/log y axis.
#include <QWidget>

#include <vector>

#include "stats/histogram.hpp"

class QCheckBox;
class QComboBox;
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
    // With the histogram of the central 99.9% beside it (core central_histogram): the plot's
    // "x range" control switches between the two, so heavy tails can be seen past.
    void setHistograms(const quantlens::Histogram& full, const quantlens::Histogram& central,
                       const QString& title);
    enum class XRange { Full, Central };
    // The range control is live without a central histogram in hand: choosing "central 99.9%"
    // emits xRangeChanged, and the owner computes it and calls setHistograms (the Layer view,
    // which computes it only when asked: it sorts a copy of the layer).
    void offerCentralRange(bool offered);
    void setXRange(XRange range);
    XRange xRange() const;
    bool isLogScale() const;
    void resetZoom();  // the ranges the data give, undoing drags and wheel zooms
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

signals:
    void xRangeChanged(XRange range);  // by the control or setXRange

private:
    void rescale();
    void showBars(const quantlens::Histogram& histogram);
    void setTitle(const QString& title);

    QCustomPlot* plot_;
    QCPBars* bars_;
    QCPGraph* levels_;
    std::vector<QCPGraph*> overlays_;
    std::vector<QCPItemStraightLine*> clipLines_;
    QPair<double, double> clip_{0, 0};
    quantlens::Histogram full_, central_;
    bool hasCentral_ = false, centralOffered_ = false;
    QCheckBox* log_;
    QComboBox* range_;
};

}  // namespace quantlens::widgets

#pragma once
// Thin QCustomPlot wrapper drawing a core Histogram as bars, with a linear/log y axis.
#include <QWidget>

#include "stats/histogram.hpp"

class QCustomPlot;
class QCPBars;

namespace quantlens::widgets {

class HistogramPlot : public QWidget {
    Q_OBJECT
public:
    explicit HistogramPlot(QWidget* parent = nullptr);
    void setHistogram(const quantlens::Histogram& histogram, const QString& title);
    void clear(const QString& message);
    void setLogScale(bool log);
    QCustomPlot* plot() const { return plot_; }
    // The bar heights currently drawn (for tests).
    QVector<double> barValues() const;

private:
    QCustomPlot* plot_;
    QCPBars* bars_;
};

}  // namespace quantlens::widgets

#pragma once
// Per output channel: the weights' range as a band (min to max) and the quantization error
// (RMSE) as a line on the right axis, so channels with outliers and the error they cause line up.
#include <QWidget>

#include <vector>

class QCustomPlot;
class QCPGraph;

namespace quantlens::widgets {

class ChannelPlot : public QWidget {
    Q_OBJECT
public:
    explicit ChannelPlot(QWidget* parent = nullptr);
    void setChannels(const std::vector<float>& low, const std::vector<float>& high,
                     const std::vector<double>& rmse);
    void clear();
    QCustomPlot* plot() const { return plot_; }
    int channelCount() const;

private:
    QCustomPlot* plot_;
    QCPGraph* high_;
    QCPGraph* low_;
    QCPGraph* error_;
};

}  // namespace quantlens::widgets

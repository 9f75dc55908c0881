#include "plots/PlotStyle.hpp"

#include <qcustomplot.h>

#include "plots/PlotExport.hpp"

namespace quantlens::widgets {

void style_plot(QCustomPlot* plot, const QPalette& palette) {
    const QColor text = palette.color(QPalette::WindowText), base = palette.color(QPalette::Base);
    plot->setBackground(base);
    for (auto* axis : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
    }
    plot->legend->setBrush(QColor(base.red(), base.green(), base.blue(), 210));
    plot->legend->setTextColor(text);
    plot->legend->setBorderPen(QPen(palette.color(QPalette::Mid)));
    install_plot_export(plot);
}

}  // namespace quantlens::widgets

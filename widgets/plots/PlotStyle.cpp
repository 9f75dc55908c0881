#include "plots/PlotStyle.hpp"

#include <QEvent>
#include <qcustomplot.h>

#include "plots/PlotExport.hpp"

namespace quantlens::widgets {

namespace {

// Background, axes, titles, colour scales and legend in the palette's colours.
void apply_colors(QCustomPlot* plot, const QPalette& palette) {
    const QColor text = palette.color(QPalette::WindowText), base = palette.color(QPalette::Base);
    plot->setBackground(base);
    std::vector<QCPAxis*> axes = {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2};
    for (int i = 0; i < plot->plotLayout()->elementCount(); ++i) {
        auto* element = plot->plotLayout()->elementAt(i);
        if (auto* title = qobject_cast<QCPTextElement*>(element))
            title->setTextColor(text);
        else if (auto* scale = qobject_cast<QCPColorScale*>(element))
            axes.push_back(scale->axis());
    }
    for (auto* axis : axes) {
        axis->setBasePen(QPen(text));
        axis->setTickPen(QPen(text));
        axis->setSubTickPen(QPen(text));
        axis->setTickLabelColor(text);
        axis->setLabelColor(text);
        auto grid = axis->grid()->pen();
        grid.setColor(palette.color(QPalette::Mid));
        axis->grid()->setPen(grid);
    }
    plot->legend->setBrush(QColor(base.red(), base.green(), base.blue(), 210));
    plot->legend->setTextColor(text);
    plot->legend->setBorderPen(QPen(palette.color(QPalette::Mid)));
}

// Restyles its plot whenever the plot's palette changes (the system's, or the app's Appearance
// menu switching between light and dark).
class PaletteFollower : public QObject {
public:
    explicit PaletteFollower(QCustomPlot* plot) : QObject(plot), plot_(plot) {
        plot->installEventFilter(this);
    }
    bool eventFilter(QObject*, QEvent* event) override {
        if (event->type() == QEvent::PaletteChange) {
            apply_colors(plot_, plot_->palette());
            plot_->replot(QCustomPlot::rpQueuedReplot);
        }
        return false;
    }

private:
    QCustomPlot* plot_;
};

}  // namespace

void style_plot(QCustomPlot* plot, const QPalette& palette) {
    apply_colors(plot, palette);
    if (!plot->property("quantlens_styled").toBool()) {  // once per plot
        plot->setProperty("quantlens_styled", true);
        new PaletteFollower(plot);
        install_plot_export(plot);
    }
}

QCustomPlot* make_labelled_plot(QWidget* parent, const QString& x, const QString& y) {
    auto* plot = new QCustomPlot(parent);
    plot->xAxis->setLabel(x);
    plot->yAxis->setLabel(y);
    plot->legend->setVisible(true);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    plot->setMinimumSize(280, 200);
    style_plot(plot, parent->palette());
    return plot;
}

}  // namespace quantlens::widgets

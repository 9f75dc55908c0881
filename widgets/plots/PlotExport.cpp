#include "plots/PlotExport.hpp"

#include "files/FileDialogs.hpp"

#include "files/OutputCheck.hpp"

#include <QFileDialog>
#include <QFileInfo>
#include <QMenu>
#include <QSaveFile>
#include <QSvgGenerator>
#include <qcustomplot.h>

namespace quantlens::widgets {

QString plot_data_csv(QCustomPlot* plot) {
    QStringList lines{QStringLiteral("series,x,y,value")};
    auto name = [](QCPAbstractPlottable* p) {
        QString n = p->name();
        return n.replace(QLatin1Char(','), QLatin1Char(';'));
    };
    for (int i = 0; i < plot->plottableCount(); ++i) {
        auto* plottable = plot->plottable(i);
        if (auto* graph = qobject_cast<QCPGraph*>(plottable)) {
            for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it)
                lines << QStringLiteral("%1,%2,%3,")
                             .arg(name(graph))
                             .arg(it->key, 0, 'g', 17)
                             .arg(it->value, 0, 'g', 17);
        } else if (auto* bars = qobject_cast<QCPBars*>(plottable)) {
            for (auto it = bars->data()->constBegin(); it != bars->data()->constEnd(); ++it)
                lines << QStringLiteral("%1,%2,%3,")
                             .arg(name(bars))
                             .arg(it->key, 0, 'g', 17)
                             .arg(it->value, 0, 'g', 17);
        } else if (auto* map = qobject_cast<QCPColorMap*>(plottable)) {
            auto* data = map->data();  // cell() is not const in QCustomPlot 2.1
            for (int x = 0; x < data->keySize(); ++x)
                for (int y = 0; y < data->valueSize(); ++y) {
                    double key = 0, value = 0;
                    data->cellToCoord(x, y, &key, &value);
                    lines << QStringLiteral("%1,%2,%3,%4")
                                 .arg(name(map))
                                 .arg(key, 0, 'g', 17)
                                 .arg(value, 0, 'g', 17)
                                 .arg(data->cell(x, y), 0, 'g', 17);
                }
        }
    }
    return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

bool save_plot(QCustomPlot* plot, const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("png"))
        return plot->savePng(path, 0, 0, 2.0);
    if (suffix == QLatin1String("pdf"))
        return plot->savePdf(path);
    if (suffix == QLatin1String("csv")) {
        QSaveFile file(path);
        return file.open(QIODevice::WriteOnly) && file.write(plot_data_csv(plot).toUtf8()) >= 0 &&
               file.commit();
    }
    if (suffix == QLatin1String("svg")) {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setSize(plot->size());
        svg.setViewBox(QRect(QPoint(0, 0), plot->size()));
        QCPPainter painter;
        if (!painter.begin(&svg))
            return false;
        plot->toPainter(&painter, plot->width(), plot->height());
        return painter.end();
    }
    return false;
}

void install_plot_export(QCustomPlot* plot) {
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(plot, &QWidget::customContextMenuRequested, plot, [plot](const QPoint& at) {
        QMenu menu(plot);
        for (const auto& [label, filter, suffix] :
             {std::tuple{QObject::tr("Save as PNG…"), QObject::tr("PNG image (*.png)"),
                         QStringLiteral("png")},
              std::tuple{QObject::tr("Save as SVG…"), QObject::tr("SVG drawing (*.svg)"),
                         QStringLiteral("svg")},
              std::tuple{QObject::tr("Save as PDF…"), QObject::tr("PDF document (*.pdf)"),
                         QStringLiteral("pdf")},
              std::tuple{QObject::tr("Save data as CSV…"), QObject::tr("CSV (*.csv)"),
                         QStringLiteral("csv")}}) {
            menu.addAction(label, plot, [plot, filter, suffix] {
                QString path =
                    saveFileDialog(plot, QObject::tr("Save plot"), QStringLiteral("plot.") + suffix, filter,
                                   QFileDialog::DontConfirmOverwrite);
                if (path.isEmpty())
                    return;
                if (QFileInfo(path).suffix().isEmpty())
                    path += QLatin1Char('.') + suffix;
                if (allowOutput(plot, path, {}, false))
                    save_plot(plot, path);
            });
        }
        menu.exec(plot->mapToGlobal(at));
    });
}

}  // namespace quantlens::widgets

#pragma once
// Every plot saves itself: a context menu offers PNG (at twice the screen's resolution), SVG,
// PDF, and the data drawn as CSV (one row per point of every graph, bar set and colour-map cell).
#include <QString>

class QCustomPlot;

namespace quantlens::widgets {

void install_plot_export(QCustomPlot* plot);

bool save_plot(QCustomPlot* plot, const QString& path);  // by the file's suffix: png, svg, pdf or csv
QString plot_data_csv(QCustomPlot* plot);

}  // namespace quantlens::widgets

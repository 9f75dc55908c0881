#pragma once
// Plots follow the application's palette (light or dark), so every plot is styled here once;
// styling also installs the plot's export menu (PlotExport.hpp).
#include <QPalette>

class QCustomPlot;
class QString;
class QWidget;

namespace quantlens::widgets {

// Colours from `palette` now, and from the plot's own palette whenever it changes (so a plot
// follows a switch to dark mode, titles and colour scales included).
void style_plot(QCustomPlot* plot, const QPalette& palette);

// A styled plot with axis labels and its legend in the bottom-right corner (points tend to sit
// top right), sized to stay readable beside another (the Compare and Diff views).
QCustomPlot* make_labelled_plot(QWidget* parent, const QString& x, const QString& y);

}  // namespace quantlens::widgets

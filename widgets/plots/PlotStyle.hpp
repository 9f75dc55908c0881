#pragma once
// Plots follow the application's palette (light or dark), so every plot is styled here once;
// styling also installs the plot's export menu (PlotExport.hpp).
#include <QPalette>

class QCustomPlot;

namespace quantlens::widgets {

// Colours from `palette` now, and from the plot's own palette whenever it changes (so a plot
// follows a switch to dark mode, titles and colour scales included).
void style_plot(QCustomPlot* plot, const QPalette& palette);

}  // namespace quantlens::widgets

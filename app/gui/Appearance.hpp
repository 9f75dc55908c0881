#pragma once
// Light or dark: the system's palette by default, or one chosen in View ▸ Appearance and kept
// in QSettings. Plots follow any palette change (widgets/plots/PlotStyle.hpp).
#include <QPalette>
#include <QString>

namespace quantlens::gui {

enum class Appearance { System, Light, Dark };

// Remembers the palette the platform gave the application: call once, before any change.
void capture_system_palette();
void apply_appearance(Appearance appearance);
Appearance saved_appearance();
void save_appearance(Appearance appearance);
QPalette dark_palette();
bool is_dark(const QPalette& palette);

}  // namespace quantlens::gui

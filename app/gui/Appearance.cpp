#include "Appearance.hpp"

#include <QApplication>
#include <QSettings>
#include <QStyle>
#include <QStyleFactory>

namespace quantlens::gui {

namespace {
QPalette& system_palette() {
    static QPalette palette;
    return palette;
}
QString& system_style() {
    static QString name;
    return name;
}
bool captured = false;
}  // namespace

void capture_system_palette() {
    if (!captured) {
        system_palette() = QApplication::palette();
        system_style() = QApplication::style()->name();
        captured = true;
    }
}

QPalette dark_palette() {
    QPalette p;
    const QColor window(45, 45, 48), base(30, 30, 32), text(220, 220, 220), disabled(127, 127, 127);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(40, 40, 43));
    p.setColor(QPalette::ToolTipBase, window);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(255, 90, 90));
    p.setColor(QPalette::Light, QColor(70, 70, 74));
    p.setColor(QPalette::Midlight, QColor(60, 60, 64));
    p.setColor(QPalette::Mid, QColor(80, 80, 84));
    p.setColor(QPalette::Dark, QColor(20, 20, 22));
    p.setColor(QPalette::Shadow, Qt::black);
    p.setColor(QPalette::Highlight, QColor(52, 140, 210));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(90, 170, 240));
    for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
        p.setColor(QPalette::Disabled, role, disabled);
    return p;
}

bool is_dark(const QPalette& palette) {
    return palette.color(QPalette::Window).lightness() < 128;
}

void apply_appearance(Appearance appearance) {
    capture_system_palette();
    switch (appearance) {
        case Appearance::System:
            if (QApplication::style()->name() != system_style())
                QApplication::setStyle(QStyleFactory::create(system_style()));
            QApplication::setPalette(system_palette());
            break;
        // Fusion draws every control from the palette, so a chosen palette reads the same everywhere.
        case Appearance::Light:
            QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
            QApplication::setPalette(QApplication::style()->standardPalette());
            break;
        case Appearance::Dark:
            QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
            QApplication::setPalette(dark_palette());
            break;
    }
}

Appearance saved_appearance() {
    const auto name = QSettings().value("appearance").toString();
    return name == QLatin1String("dark")    ? Appearance::Dark
           : name == QLatin1String("light") ? Appearance::Light
                                            : Appearance::System;
}

void save_appearance(Appearance appearance) {
    QSettings().setValue("appearance", appearance == Appearance::Dark    ? QStringLiteral("dark")
                                       : appearance == Appearance::Light ? QStringLiteral("light")
                                                                         : QStringLiteral("system"));
}

}  // namespace quantlens::gui

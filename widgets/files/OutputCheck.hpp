#pragma once
// The GUI's side of the output guard (core util/output_guard.hpp): every save and export
// dialog asks here before writing, and the user sees why a destination was refused.
#include <QString>
#include <QStringList>

class QWidget;

namespace quantlens::widgets {

// True when `path` may be written: it is not, does not hold and does not lie inside any of
// `inputs`, and it does not exist, or `replaceOwn` is set and QuantLens wrote it. Otherwise
// shows the reason in a message box over `parent` and returns false.
bool allowOutput(QWidget* parent, const QString& path, const QStringList& inputs, bool replaceOwn);

// The same without a message box: the reason, or an empty string when `path` may be written.
QString outputRefusal(const QString& path, const QStringList& inputs, bool replaceOwn, bool folder = false);

}  // namespace quantlens::widgets

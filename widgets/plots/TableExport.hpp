#pragma once
// Tables copy and save as CSV from a context menu (the text shown, with the row headers).
#include <QString>

class QTableWidget;

namespace quantlens::widgets {

// One CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or a newline.
QString csv_field(QString text);
QString table_csv(const QTableWidget* table);
void install_table_export(QTableWidget* table);

}  // namespace quantlens::widgets

#pragma once
// Tables copy and save as CSV from a context menu (the text shown, with the row headers).
#include <QString>

class QTableWidget;

namespace quantlens::widgets {

QString table_csv(const QTableWidget* table);
void install_table_export(QTableWidget* table);

}  // namespace quantlens::widgets

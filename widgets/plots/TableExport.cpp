#include "plots/TableExport.hpp"

#include "files/FileDialogs.hpp"

#include "files/OutputCheck.hpp"

#include <QApplication>
#include <QClipboard>
#include <QFileDialog>
#include <QHeaderView>
#include <QMenu>
#include <QSaveFile>
#include <QTableWidget>

namespace quantlens::widgets {

QString csv_field(QString text) {
    if (text.contains(QLatin1Char(',')) || text.contains(QLatin1Char('"')) ||
        text.contains(QLatin1Char('\n')))
        text = QLatin1Char('"') + text.replace(QLatin1Char('"'), QStringLiteral("\"\"")) + QLatin1Char('"');
    return text;
}

QString table_csv(const QTableWidget* table) {
    const bool rowHeaders = table->verticalHeader()->isVisible();
    QStringList lines, cells;
    if (rowHeaders)
        cells << QString();
    for (int c = 0; c < table->columnCount(); ++c)
        cells << csv_field(table->horizontalHeaderItem(c) ? table->horizontalHeaderItem(c)->text()
                                                          : QString());
    lines << cells.join(QLatin1Char(','));
    for (int r = 0; r < table->rowCount(); ++r) {
        cells.clear();
        if (rowHeaders)
            cells << csv_field(table->verticalHeaderItem(r) ? table->verticalHeaderItem(r)->text()
                                                            : QString());
        for (int c = 0; c < table->columnCount(); ++c)
            cells << csv_field(table->item(r, c) ? table->item(r, c)->text() : QString());
        lines << cells.join(QLatin1Char(','));
    }
    return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

void install_table_export(QTableWidget* table) {
    table->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(table, &QWidget::customContextMenuRequested, table, [table](const QPoint& at) {
        QMenu menu(table);
        menu.addAction(QObject::tr("Copy table as CSV"), table,
                       [table] { QApplication::clipboard()->setText(table_csv(table)); });
        menu.addAction(QObject::tr("Save table as CSV…"), table, [table] {
            const auto path = saveFileDialog(table, QObject::tr("Save table"), QStringLiteral("table.csv"),
                                             QObject::tr("CSV (*.csv)"), QFileDialog::DontConfirmOverwrite);
            if (path.isEmpty() || !allowOutput(table, path, {}, false))
                return;
            QSaveFile file(path);
            if (file.open(QIODevice::WriteOnly) && file.write(table_csv(table).toUtf8()) >= 0)
                file.commit();
        });
        menu.exec(table->viewport()->mapToGlobal(at));
    });
}

}  // namespace quantlens::widgets

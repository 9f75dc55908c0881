#pragma once
// The columns a table shows, chosen from its header's context menu and remembered in QSettings
// under a key. A column can also be unavailable (a metric not yet computed): it is shown when
// the user wants it and it is available.
#include <QObject>
#include <QSet>
#include <QString>

class QTableView;

namespace quantlens::widgets {

class ColumnChooser : public QObject {
    Q_OBJECT
public:
    // Column 0 (the row's name) is always shown.
    ColumnChooser(QTableView* table, QString settingsKey, QObject* parent = nullptr);
    void setAvailable(int column, bool available);
    void setWanted(int column, bool wanted);  // as the menu does, remembered
    bool isWanted(int column) const { return !unwanted_.contains(column); }

private:
    void apply(int column);
    void showMenu(const QPoint& at);

    QTableView* table_;
    QString key_;
    QSet<int> unwanted_, unavailable_;
};

}  // namespace quantlens::widgets

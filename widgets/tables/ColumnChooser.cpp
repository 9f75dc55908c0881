#include "tables/ColumnChooser.hpp"

#include <QHeaderView>
#include <QMenu>
#include <QSettings>
#include <QTableView>

namespace quantlens::widgets {

ColumnChooser::ColumnChooser(QTableView* table, QString settingsKey, QObject* parent)
    : QObject(parent), table_(table), key_(std::move(settingsKey)) {
    for (const QVariant& column : QSettings().value(key_).toList())
        if (column.toInt() > 0)
            unwanted_.insert(column.toInt());
    auto* header = table_->horizontalHeader();
    header->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(header, &QHeaderView::customContextMenuRequested, this, &ColumnChooser::showMenu);
    for (int column : unwanted_)
        apply(column);
}

void ColumnChooser::setAvailable(int column, bool available) {
    if (available)
        unavailable_.remove(column);
    else
        unavailable_.insert(column);
    apply(column);
}

void ColumnChooser::setWanted(int column, bool wanted) {
    if (column <= 0)
        return;
    if (wanted)
        unwanted_.remove(column);
    else
        unwanted_.insert(column);
    QVariantList stored;
    for (int c : unwanted_)
        stored << c;
    QSettings().setValue(key_, stored);
    apply(column);
    if (wanted && !unavailable_.contains(column))
        table_->resizeColumnToContents(column);
}

void ColumnChooser::apply(int column) {
    table_->setColumnHidden(column, unwanted_.contains(column) || unavailable_.contains(column));
}

void ColumnChooser::showMenu(const QPoint& at) {
    const auto* model = table_->model();
    if (!model)
        return;
    QMenu menu;
    for (int c = 1; c < model->columnCount(); ++c) {
        auto* action = menu.addAction(model->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
        action->setCheckable(true);
        action->setChecked(isWanted(c));
        if (unavailable_.contains(c))
            action->setText(action->text() + tr(" (not yet measured)"));
        connect(action, &QAction::toggled, this, [this, c](bool on) { setWanted(c, on); });
    }
    menu.exec(table_->horizontalHeader()->mapToGlobal(at));
}

}  // namespace quantlens::widgets

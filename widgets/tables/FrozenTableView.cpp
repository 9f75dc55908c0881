#include "tables/FrozenTableView.hpp"

#include <QHeaderView>
#include <QScrollBar>

namespace quantlens::widgets {

FrozenTableView::FrozenTableView(QWidget* parent) : QTableView(parent), frozen_(new QTableView(this)) {
    frozen_->setFocusPolicy(Qt::NoFocus);
    frozen_->verticalHeader()->hide();
    frozen_->horizontalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    frozen_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    frozen_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    frozen_->setVerticalScrollMode(ScrollPerPixel);
    frozen_->setFrameShape(
        QFrame::NoFrame);  // no style sheet: it would stop the palette (dark mode) reaching it
    frozen_->setWordWrap(false);
    setHorizontalScrollMode(ScrollPerPixel);
    setVerticalScrollMode(ScrollPerPixel);
    viewport()->stackUnder(frozen_);

    // One vertical position for both; the first column's width and the row heights follow this view.
    connect(frozen_->verticalScrollBar(), &QAbstractSlider::valueChanged, verticalScrollBar(),
            &QAbstractSlider::setValue);
    connect(verticalScrollBar(), &QAbstractSlider::valueChanged, frozen_->verticalScrollBar(),
            &QAbstractSlider::setValue);
    connect(horizontalHeader(), &QHeaderView::sectionResized, this, [this](int section, int, int size) {
        if (section == 0) {
            frozen_->setColumnWidth(0, size);
            updateFrozenGeometry();
        }
    });
    connect(verticalHeader(), &QHeaderView::sectionResized, this,
            [this](int section, int, int size) { frozen_->setRowHeight(section, size); });
    // Sorting by the frozen header sorts this view (the frozen one only mirrors it).
    connect(frozen_->horizontalHeader(), &QHeaderView::sectionClicked, this, [this](int section) {
        if (isSortingEnabled())
            horizontalHeader()->sectionClicked(section);
    });
    connect(horizontalHeader(), &QHeaderView::sortIndicatorChanged, this,
            [this](int section, Qt::SortOrder order) {
                frozen_->horizontalHeader()->setSortIndicatorShown(section == 0);
                frozen_->horizontalHeader()->setSortIndicator(section, order);
            });
}

void FrozenTableView::setModel(QAbstractItemModel* model) {
    QTableView::setModel(model);
    frozen_->setModel(model);
    frozen_->setSelectionModel(selectionModel());
    frozen_->setSelectionBehavior(selectionBehavior());
    frozen_->setSelectionMode(selectionMode());
    connect(model, &QAbstractItemModel::modelReset, this, &FrozenTableView::showOnlyFirstColumn);
    connect(model, &QAbstractItemModel::columnsInserted, this, &FrozenTableView::showOnlyFirstColumn);
    connect(model, &QAbstractItemModel::layoutChanged, this, [this] { frozen_->viewport()->update(); });
    showOnlyFirstColumn();
}

void FrozenTableView::showOnlyFirstColumn() {
    if (!model())
        return;
    for (int c = 1; c < model()->columnCount(); ++c)
        frozen_->setColumnHidden(c, true);
    frozen_->setColumnWidth(0, columnWidth(0));
    frozen_->verticalHeader()->setDefaultSectionSize(verticalHeader()->defaultSectionSize());
    frozen_->setSelectionBehavior(selectionBehavior());
    frozen_->setSelectionMode(selectionMode());
    frozen_->setAlternatingRowColors(alternatingRowColors());
    frozen_->show();
    updateFrozenGeometry();
}

void FrozenTableView::resizeEvent(QResizeEvent* event) {
    QTableView::resizeEvent(event);
    updateFrozenGeometry();
}

// Column widths can change without sectionResized (resizeColumnsToContents); geometries follow.
void FrozenTableView::updateGeometries() {
    QTableView::updateGeometries();
    updateFrozenGeometry();
}

void FrozenTableView::updateFrozenGeometry() {
    if (frozen_->columnWidth(0) != columnWidth(0))
        frozen_->setColumnWidth(0, columnWidth(0));
    frozen_->setAlternatingRowColors(alternatingRowColors());
    frozen_->verticalHeader()->setDefaultSectionSize(verticalHeader()->defaultSectionSize());
    frozen_->setGeometry(verticalHeader()->width() + frameWidth(), frameWidth(), columnWidth(0),
                         viewport()->height() + horizontalHeader()->height());
}

// Keyboard moves to the left keep the cursor's cell out from under the frozen column.
QModelIndex FrozenTableView::moveCursor(CursorAction action, Qt::KeyboardModifiers modifiers) {
    const QModelIndex current = QTableView::moveCursor(action, modifiers);
    if (action == MoveLeft && current.column() > 0 &&
        visualRect(current).topLeft().x() < frozen_->columnWidth(0)) {
        const int shift =
            horizontalScrollBar()->value() + visualRect(current).topLeft().x() - frozen_->columnWidth(0);
        horizontalScrollBar()->setValue(shift);
    }
    return current;
}

void FrozenTableView::scrollTo(const QModelIndex& index, ScrollHint hint) {
    // The first column is always in view: bringing a row into view must not scroll sideways to it.
    const int sideways = horizontalScrollBar()->value();
    QTableView::scrollTo(index, hint);
    if (index.column() == 0)
        horizontalScrollBar()->setValue(sideways);
}

}  // namespace quantlens::widgets

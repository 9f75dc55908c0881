#pragma once
// A table view whose first column stays put while the others scroll sideways, so a layer's
// name is always beside its figures. The frozen column is a second view laid over the first
// column, sharing the model, the selection and the vertical scroll (the layout Qt's "Frozen
// Column" example describes).
#include <QTableView>

namespace quantlens::widgets {

class FrozenTableView : public QTableView {
    Q_OBJECT
public:
    explicit FrozenTableView(QWidget* parent = nullptr);
    void setModel(QAbstractItemModel* model) override;
    QTableView* frozenView() const { return frozen_; }

protected:
    void resizeEvent(QResizeEvent* event) override;
    void updateGeometries() override;
    QModelIndex moveCursor(CursorAction action, Qt::KeyboardModifiers modifiers) override;
    void scrollTo(const QModelIndex& index, ScrollHint hint = EnsureVisible) override;

private:
    void updateFrozenGeometry();
    void showOnlyFirstColumn();

    QTableView* frozen_;
};

}  // namespace quantlens::widgets

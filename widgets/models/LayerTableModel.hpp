#pragma once
// Table adapter over core::Inspection: one row per layer. Sorting uses Qt::UserRole,
// which holds numbers for numeric columns.
#include <QAbstractTableModel>

#include "model/inspection.hpp"

namespace quantlens::widgets {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, Kind, Shape, Parameters, DType, Bytes, Min, Max, Mean, Std, ColumnCount };

    explicit LayerTableModel(QObject* parent = nullptr);
    void setInspection(quantlens::Inspection inspection);
    const quantlens::Inspection& inspection() const { return inspection_; }
    const quantlens::LayerRow* layerAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    quantlens::Inspection inspection_;
};

}  // namespace quantlens::widgets

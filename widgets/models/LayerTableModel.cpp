#include "models/LayerTableModel.hpp"

#include <QLocale>

namespace quantlens::widgets {

namespace {
const quantlens::TensorRow* weightOf(const quantlens::LayerRow& layer) {
    for (const auto& tensor : layer.tensors)
        if (tensor.role == "weight") return &tensor;
    return nullptr;
}
}  // namespace

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setInspection(quantlens::Inspection inspection) {
    beginResetModel();
    inspection_ = std::move(inspection);
    endResetModel();
}

const quantlens::LayerRow* LayerTableModel::layerAt(int row) const {
    return row >= 0 && row < static_cast<int>(inspection_.layers.size()) ? &inspection_.layers[static_cast<std::size_t>(row)] : nullptr;
}

int LayerTableModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(inspection_.layers.size()); }
int LayerTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    static const char* kTitles[] = {"Layer", "Kind", "Shape (out, in…)", "Parameters", "DType", "Size", "Min", "Max", "Mean", "Std"};
    return tr(kTitles[section]);
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    const auto* layer = layerAt(index.row());
    if (!layer) return {};
    const auto* weight = weightOf(*layer);
    const auto* summary = weight && weight->summary ? &*weight->summary : nullptr;
    const QLocale locale;
    auto statistic = [&](double value) -> QVariant {
        if (!summary) return role == Qt::DisplayRole ? QVariant(QStringLiteral("–")) : QVariant();
        return role == Qt::DisplayRole ? QVariant(QString::number(value, 'g', 4)) : QVariant(value);
    };
    if (role == Qt::TextAlignmentRole)
        return index.column() >= Parameters && index.column() != DType ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole && weight && !weight->error.empty()) return QString::fromStdString(weight->error);
    if (role != Qt::DisplayRole && role != Qt::UserRole) return {};
    switch (index.column()) {
        case Name: return QString::fromStdString(layer->name);
        case Kind: return QString::fromUtf8(quantlens::layer_kind_name(layer->kind).data());
        case Shape: return QString::fromStdString(quantlens::shape_text(layer->shape));
        case Parameters: return role == Qt::UserRole ? QVariant(static_cast<qulonglong>(layer->parameters)) : QVariant(locale.toString(static_cast<qulonglong>(layer->parameters)));
        case DType: return weight ? QString::fromUtf8(quantlens::dtype_name(weight->dtype).data()) : QString();
        case Bytes: return role == Qt::UserRole ? QVariant(static_cast<qulonglong>(layer->bytes)) : QVariant(locale.formattedDataSize(static_cast<qint64>(layer->bytes)));
        case Min: return statistic(summary ? summary->min : 0);
        case Max: return statistic(summary ? summary->max : 0);
        case Mean: return statistic(summary ? summary->mean : 0);
        case Std: return statistic(summary ? summary->std : 0);
    }
    return {};
}

}  // namespace quantlens::widgets

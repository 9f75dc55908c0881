#include "models/LayerTableModel.hpp"

#include "plots/TableExport.hpp"

#include <QColor>
#include <QFont>
#include <QLocale>
#include <QPainter>
#include <QPixmap>

#include <algorithm>
#include <cmath>

namespace quantlens::widgets {

namespace {
const quantlens::TensorRow* weightOf(const quantlens::LayerRow& layer) {
    for (const auto& tensor : layer.tensors)
        if (tensor.role == "weight")
            return &tensor;
    return nullptr;
}
// The badge beside a layer whose file stores its weight quantized: a small "Q" on the accent
// colour, readable on light and dark palettes alike.
const QPixmap& storedBadge() {
    static const QPixmap badge = [] {
        QPixmap pixmap(16, 16);
        pixmap.fill(Qt::transparent);
        QPainter painter(&pixmap);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setBrush(QColor(40, 140, 150));
        painter.setPen(Qt::NoPen);
        painter.drawRoundedRect(QRectF(1, 1, 14, 14), 3, 3);
        QFont font = painter.font();
        font.setBold(true);
        font.setPixelSize(11);
        painter.setFont(font);
        painter.setPen(Qt::white);
        painter.drawText(QRectF(1, 1, 14, 14), Qt::AlignCenter, QStringLiteral("Q"));
        return pixmap;
    }();
    return badge;
}
}  // namespace

LayerTableModel::LayerTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LayerTableModel::setInspection(quantlens::Inspection inspection) {
    beginResetModel();
    inspection_ = std::move(inspection);
    analyses_.assign(inspection_.layers.size(), std::nullopt);
    model_.clear();
    updateRanges();
    endResetModel();
}

void LayerTableModel::setModelMetrics(const QString& spec, std::map<std::string, double> trace,
                                      std::map<std::string, double> lrp,
                                      std::map<std::string, double> deltaLoss) {
    deltaLossSpec_ = spec;
    model_.clear();
    if (!trace.empty())
        model_[HessianTrace] = std::move(trace);
    if (!lrp.empty())
        model_[LrpScore] = std::move(lrp);
    if (!deltaLoss.empty())
        model_[DeltaLoss] = std::move(deltaLoss);
    updateRanges();
    emit headerDataChanged(Qt::Horizontal, HessianTrace, DeltaLoss);
    if (rowCount() > 0)
        emit dataChanged(index(0, HessianTrace), index(rowCount() - 1, DeltaLoss));
}

void LayerTableModel::setLayerAnalysis(const quantlens::LayerAnalysis& analysis) {
    for (std::size_t row = 0; row < inspection_.layers.size(); ++row) {
        if (inspection_.layers[row].name != analysis.layer)
            continue;
        analyses_[row] = analysis;
        updateRanges();
        // Every row's colour depends on the range, so the analysis columns of all rows change.
        emit dataChanged(index(0, Kurtosis), index(rowCount() - 1, Outliers));
        return;
    }
}

const quantlens::LayerAnalysis* LayerTableModel::analysisAt(int row) const {
    return row >= 0 && row < static_cast<int>(analyses_.size()) && analyses_[static_cast<std::size_t>(row)]
               ? &*analyses_[static_cast<std::size_t>(row)]
               : nullptr;
}

int LayerTableModel::analysedRows() const {
    return static_cast<int>(
        std::count_if(analyses_.begin(), analyses_.end(), [](const auto& a) { return a.has_value(); }));
}

void LayerTableModel::setSqnr(const QString& spec, const std::map<std::string, double>& sqnr) {
    sqnrSpec_ = spec;
    sqnr_ = sqnr;
    updateRanges();
    emit headerDataChanged(Qt::Horizontal, Sqnr, Sqnr);
    if (rowCount() > 0)
        emit dataChanged(index(0, Sqnr), index(rowCount() - 1, Sqnr));
}

void LayerTableModel::setAssignments(const std::map<std::string, std::string>& specs) {
    assigned_ = specs;
    if (rowCount() > 0)
        emit dataChanged(index(0, Assigned), index(rowCount() - 1, Assigned));
}

QString LayerTableModel::toCsv() const {
    QStringList lines, cells;
    for (int c = 0; c < ColumnCount; ++c)
        cells << csv_field(headerData(c, Qt::Horizontal, Qt::DisplayRole).toString());
    lines << cells.join(QLatin1Char(','));
    for (int r = 0; r < rowCount(); ++r) {
        cells.clear();
        for (int c = 0; c < ColumnCount; ++c) {
            // numbers as numbers (full precision) where the column has them, else the text shown
            const QVariant value = data(index(r, c), Qt::UserRole);
            const bool number = value.isValid() && (value.typeId() == QMetaType::Double ||
                                                    value.typeId() == QMetaType::ULongLong);
            cells << csv_field(number ? QString::number(value.toDouble(), 'g', 17)
                                      : data(index(r, c), Qt::DisplayRole).toString());
        }
        lines << cells.join(QLatin1Char(','));
    }
    return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

std::optional<double> LayerTableModel::metric(int row, int column) const {
    if (column >= HessianTrace && column <= DeltaLoss) {
        const auto* layer = layerAt(row);
        const auto values = model_.find(column);
        if (!layer || values == model_.end())
            return std::nullopt;
        const auto found = values->second.find(layer->name);
        if (found == values->second.end() || !std::isfinite(found->second))
            return std::nullopt;
        return found->second;
    }
    if (column == Sqnr) {
        const auto* layer = layerAt(row);
        if (!layer)
            return std::nullopt;
        const auto found = sqnr_.find(layer->name);
        if (found == sqnr_.end() || !std::isfinite(found->second))
            return std::nullopt;
        return found->second;
    }
    const auto* analysis = analysisAt(row);
    if (!analysis)
        return std::nullopt;
    switch (column) {
        case Kurtosis: return analysis->statistics.excess_kurtosis;
        case Qsur:
            if (analysis->qsur && std::isfinite(analysis->qsur->per_dimension))
                return analysis->qsur->per_dimension;
            return std::nullopt;
        case Outliers: return analysis->statistics.outlier_fraction;
    }
    return std::nullopt;
}

void LayerTableModel::updateRanges() {
    auto range_of = [&](int column) {
        Range range{INFINITY, -INFINITY};
        for (int row = 0; row < rowCount(); ++row)
            if (auto value = metric(row, column)) {
                range.low = std::min(range.low, *value);
                range.high = std::max(range.high, *value);
            }
        return range;
    };
    kurtosisRange_ = range_of(Kurtosis);
    qsurRange_ = range_of(Qsur);
    outlierRange_ = range_of(Outliers);
    sqnrRange_ = range_of(Sqnr);
    modelRanges_.clear();
    for (int column : {HessianTrace, LrpScore, DeltaLoss})
        modelRanges_[column] = range_of(column);
}

const quantlens::LayerRow* LayerTableModel::layerAt(int row) const {
    return row >= 0 && row < static_cast<int>(inspection_.layers.size())
               ? &inspection_.layers[static_cast<std::size_t>(row)]
               : nullptr;
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(inspection_.layers.size());
}
int LayerTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal)
        return {};
    // A first click on a metric ranks the worst layers first: the highest kurtosis, outlier share,
    // Hessian trace, LRP share, Δloss and size; the lowest QSUR and SQNR (ascending, as usual).
    if (role == Qt::InitialSortOrderRole)
        return section == Kurtosis || section == Outliers || section == HessianTrace || section == LrpScore ||
                       section == DeltaLoss || section == Parameters || section == Bytes
                   ? Qt::DescendingOrder
                   : Qt::AscendingOrder;
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    static const char* kTitles[] = {"Layer",      "Kind",     "Shape (out, in…)",
                                    "Parameters", "DType",    "Kurtosis",
                                    "QSUR",       "Outliers", "Hessian tr",
                                    "LRP",        "Δloss",    "SQNR",
                                    "Assigned",   "Size",     "Min",
                                    "Max",        "Mean",     "Std"};
    if (section == Sqnr && role == Qt::DisplayRole && !sqnrSpec_.isEmpty())
        return tr("SQNR @ %1").arg(sqnrSpec_);
    if (section == DeltaLoss && role == Qt::DisplayRole && !deltaLossSpec_.isEmpty())
        return tr("Δloss @ %1").arg(deltaLossSpec_);
    if (role == Qt::ToolTipRole) {
        if (section == Kurtosis)
            return tr("Excess (Fisher) kurtosis of the weights: heavy tails make per-tensor ranges wasteful");
        if (section == Qsur)
            return tr(
                "QSUR^(1/d): how much of a per-tensor quantizer's range the weights fill (1 = all; * "
                "rank-deficient)");
        if (section == Outliers)
            return tr("Share of weights further than 3σ from the mean");
        if (section == Sqnr)
            return tr(
                "Signal-to-quantization-noise ratio (dB) of each layer under the spec in the Quantize view: "
                "low means damaged");
        if (section == Assigned)
            return tr("The spec the plan in the Allocate view gives the layer");
        if (section == HessianTrace)
            return tr(
                "Hessian trace of the loss over the layer's parameters (Hutchinson, on the calibration "
                "data)");
        if (section == LrpScore)
            return tr(
                "LRP contribution: the share of relevance the layer carries (the layers' scores sum to 1)");
        if (section == DeltaLoss)
            return tr("Measured loss change on the calibration data with only this layer quantized");
    }
    return tr(kTitles[section]);
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    const auto* layer = layerAt(index.row());
    if (!layer)
        return {};
    const auto* weight = weightOf(*layer);
    const auto* summary = weight && weight->summary ? &*weight->summary : nullptr;
    const QLocale locale;
    auto statistic = [&](double value) -> QVariant {
        if (!summary)
            return role == Qt::DisplayRole ? QVariant(QStringLiteral("–")) : QVariant();
        return role == Qt::DisplayRole ? QVariant(QString::number(value, 'g', 4)) : QVariant(value);
    };
    if (role == Qt::TextAlignmentRole)
        return index.column() >= Parameters && index.column() != DType
                   ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                   : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    if (weight && weight->quantization && (index.column() == Name || index.column() == DType)) {
        if (role == Qt::DecorationRole && index.column() == Name)
            return storedBadge();
        if (role == Qt::ToolTipRole)
            return tr("Stored quantized in the file: %1. Statistics and previews use the dequantized "
                      "values; Compare ▸ Stored format sets the stored format beside other specs.")
                .arg(QString::fromStdString(quantlens::describe(*weight->quantization)));
    }
    if (role == Qt::ToolTipRole && weight && !weight->error.empty())
        return QString::fromStdString(weight->error);
    if (role == Qt::ToolTipRole && analysisAt(index.row()) && !analysisAt(index.row())->error.empty())
        return QString::fromStdString(analysisAt(index.row())->error);
    if (index.column() == Sqnr &&
        (role == Qt::DisplayRole || role == Qt::UserRole || role == Qt::BackgroundRole)) {
        const auto value = metric(index.row(), Sqnr);
        if (role == Qt::BackgroundRole) {  // warm where the spec hurts: low SQNR
            if (!value || !(sqnrRange_.high > sqnrRange_.low))
                return {};
            return QColor(230, 90, 50,
                          static_cast<int>(20 + 150 * (1 - (*value - sqnrRange_.low) /
                                                               (sqnrRange_.high - sqnrRange_.low))));
        }
        if (!value)
            return role == Qt::DisplayRole ? QVariant(QStringLiteral("–")) : QVariant();
        return role == Qt::UserRole ? QVariant(*value)
                                    : QVariant(QString::number(*value, 'f', 1) + QStringLiteral(" dB"));
    }
    if (index.column() >= HessianTrace && index.column() <= DeltaLoss &&
        (role == Qt::DisplayRole || role == Qt::UserRole || role == Qt::BackgroundRole)) {
        const auto value = metric(index.row(), index.column());
        const auto range = modelRanges_.count(index.column()) ? modelRanges_.at(index.column()) : Range{};
        if (role == Qt::BackgroundRole) {  // warm where the layer matters most
            if (!value || !(range.high > range.low))
                return {};
            return QColor(230, 90, 50,
                          static_cast<int>(20 + 150 * (*value - range.low) / (range.high - range.low)));
        }
        if (!value)
            return role == Qt::DisplayRole ? QVariant(QStringLiteral("–")) : QVariant();
        return role == Qt::UserRole ? QVariant(*value) : QVariant(QString::number(*value, 'g', 3));
    }
    if (index.column() == Assigned && (role == Qt::DisplayRole || role == Qt::UserRole)) {
        const auto found = assigned_.find(layer->name);
        return found == assigned_.end()
                   ? (role == Qt::DisplayRole ? QVariant(QStringLiteral("–")) : QVariant())
                   : QVariant(QString::fromStdString(found->second));
    }
    const bool analysisColumn = index.column() >= Kurtosis && index.column() <= Outliers;
    if (analysisColumn && role == Qt::BackgroundRole) {
        // Warm where a layer stands out: high kurtosis or outlier share, low QSUR. Translucent,
        // so it reads on light and dark palettes alike.
        auto value = metric(index.row(), index.column());
        const Range range = index.column() == Kurtosis ? kurtosisRange_
                            : index.column() == Qsur   ? qsurRange_
                                                       : outlierRange_;
        if (!value || !(range.high > range.low))
            return {};
        double t = (*value - range.low) / (range.high - range.low);
        if (index.column() == Qsur)
            t = 1 - t;
        return QColor(230, 90, 50, static_cast<int>(20 + 150 * t));
    }
    if (analysisColumn && (role == Qt::DisplayRole || role == Qt::UserRole)) {
        auto value = metric(index.row(), index.column());
        if (!value) {
            if (role != Qt::DisplayRole)
                return {};
            if (!quantlens::is_quantizable(layer->kind))
                return QStringLiteral("–");  // norms and vectors stay in full precision
            const auto* analysis = analysisAt(index.row());
            return !analysis                 ? QStringLiteral("…")
                   : analysis->error.empty() ? QStringLiteral("n/a")
                                             : QStringLiteral("error");
        }
        if (role == Qt::UserRole)
            return *value;
        if (index.column() == Outliers)
            return QString::number(100 * *value, 'f', 2) + QStringLiteral(" %");
        const auto* analysis = analysisAt(index.row());
        const bool flagged = index.column() == Qsur && analysis->qsur && analysis->qsur->rank_deficient;
        return QString::number(*value, 'g', 3) + (flagged ? QStringLiteral("*") : QString());
    }
    if (role != Qt::DisplayRole && role != Qt::UserRole)
        return {};
    switch (index.column()) {
        case Name: return QString::fromStdString(layer->name);
        case Kind: return QString::fromUtf8(quantlens::layer_kind_name(layer->kind).data());
        case Shape: return QString::fromStdString(quantlens::shape_text(layer->shape));
        case Parameters:
            return role == Qt::UserRole
                       ? QVariant(static_cast<qulonglong>(layer->parameters))
                       : QVariant(locale.toString(static_cast<qulonglong>(layer->parameters)));
        case DType: return weight ? QString::fromStdString(weight->stored_type) : QString();
        case Bytes:
            return role == Qt::UserRole
                       ? QVariant(static_cast<qulonglong>(layer->bytes))
                       : QVariant(locale.formattedDataSize(static_cast<qint64>(layer->bytes)));
        case Min: return statistic(summary ? summary->min : 0);
        case Max: return statistic(summary ? summary->max : 0);
        case Mean: return statistic(summary ? summary->mean : 0);
        case Std: return statistic(summary ? summary->std : 0);
    }
    return {};
}

}  // namespace quantlens::widgets

#pragma once
// Table adapter over core::Inspection: one row per layer. Sorting uses Qt::UserRole,
// which holds numbers for numeric columns. The analysis columns (kurtosis, QSUR, outliers)
// fill in as the background Analysis finishes each layer, each with a colour scale over the
// finished rows so the layers that stand out are visible at a glance.
#include <QAbstractTableModel>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/layer_analysis.hpp"
#include "model/inspection.hpp"

namespace quantlens::widgets {

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Name,
        Kind,
        Shape,
        Parameters,
        DType,
        Kurtosis,
        Qsur,
        Outliers,
        HessianTrace,
        LrpScore,
        DeltaLoss,
        Sqnr,
        Assigned,
        Bytes,
        Min,
        Max,
        Mean,
        Std,
        ColumnCount
    };

    explicit LayerTableModel(QObject* parent = nullptr);
    void setInspection(quantlens::Inspection inspection);
    const quantlens::Inspection& inspection() const { return inspection_; }
    const quantlens::LayerRow* layerAt(int row) const;
    // A finished layer's analysis; rows without one show "…" in the analysis columns.
    void setLayerAnalysis(const quantlens::LayerAnalysis& analysis);
    const quantlens::LayerAnalysis* analysisAt(int row) const;
    int analysedRows() const;
    // Each layer's SQNR under the spec being previewed (the column's title names the spec),
    // and the spec a plan assigns it; layers absent from the map show "–".
    void setSqnr(const QString& spec, const std::map<std::string, double>& sqnr);
    void setAssignments(const std::map<std::string, std::string>& specs);
    // The model-based columns (Hessian trace, LRP score, measured Δloss under `spec`), by layer;
    // cleared by setInspection. hasModelMetrics() says whether they hold anything to show.
    void setModelMetrics(const QString& spec, std::map<std::string, double> trace,
                         std::map<std::string, double> lrp, std::map<std::string, double> deltaLoss);
    bool hasModelMetrics() const { return !model_.empty(); }
    QString sqnrSpec() const { return sqnrSpec_; }
    // The table as shown (display text), header first, comma-separated with quoting.
    QString toCsv() const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    std::optional<double> metric(int row, int column) const;  // the analysis figure behind a cell
    void updateRanges();

    quantlens::Inspection inspection_;
    std::vector<std::optional<quantlens::LayerAnalysis>> analyses_;  // by row
    struct Range {
        double low = 0, high = 0;
    };
    Range kurtosisRange_, qsurRange_, outlierRange_, sqnrRange_;
    std::map<int, Range> modelRanges_;                    // by column
    std::map<int, std::map<std::string, double>> model_;  // by column, then layer
    QString deltaLossSpec_;
    QString sqnrSpec_;
    std::map<std::string, double> sqnr_;
    std::map<std::string, std::string> assigned_;
};

}  // namespace quantlens::widgets

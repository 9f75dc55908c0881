#pragma once
// The open model against another version of it (its quantized export, a GPTQ/AWQ/bitsandbytes
// checkpoint, a GGUF, a fine-tune), layer by layer, as `quantlens-cli diff` compares them
// (analysis/checkpoint_diff): a sortable table of every pair, SQNR along depth and against the
// other's bits per weight, and the selected pair's two weight distributions over each other.
// "Plan at same size" adds what QuantLens's allocator does with the same bits
// (alloc/checkpoint_plan) as a second series and three more columns. All work runs off the UI
// thread through JobRunner.
#include <QWidget>

#include <map>
#include <memory>
#include <optional>

#include "alloc/checkpoint_plan.hpp"
#include "analysis/checkpoint_diff.hpp"
#include "model/model.hpp"

class QCustomPlot;
class QLabel;
class QPushButton;
class QSortFilterProxyModel;
class QStandardItemModel;
class QTableView;

namespace quantlens::widgets {

class HistogramPlot;
class JobRunner;

class DiffPanel : public QWidget {
    Q_OBJECT
public:
    // The table's columns (the plan's three fill in once it is made).
    enum Column {
        Layer,
        OtherLayer,
        Pairing,
        Stored,
        Shape,
        BitsPerWeight,
        Mse,
        Sqnr,
        Cosine,
        MaxError,
        PlanSpec,
        PlanBits,
        PlanSqnr,
        PlanGain,
        ColumnCount
    };

    explicit DiffPanel(QWidget* parent = nullptr);
    ~DiffPanel() override;

    // The base: the model open in the window. A new base drops what is on screen.
    void setModel(std::shared_ptr<const quantlens::Model> model);
    // Opens `path` and diffs it against the base, off the UI thread.
    void compareWith(const QString& path);
    // The layers the other stores quantized, planned from the base at the other's size.
    void planAtSameSize();

    const quantlens::ModelDiff* diff() const { return diff_ ? &*diff_ : nullptr; }
    const quantlens::PlanAtSize* plan() const { return plan_ ? &*plan_ : nullptr; }
    QTableView* table() const { return table_; }
    QSortFilterProxyModel* sortedRows() const { return proxy_; }
    QLabel* summary() const { return summary_; }
    QPushButton* planButton() const { return planButton_; }
    QCustomPlot* depthPlot() const { return depth_; }
    QCustomPlot* bitsPlot() const { return bits_; }
    HistogramPlot* histogram() const { return histogram_; }
    JobRunner* job() const { return job_; }
    JobRunner* histogramJob() const { return histogramJob_; }
    QString tableCsv() const;

signals:
    void diffed();                           // a diff is on screen
    void planned();                          // the plan at the same size is on screen
    void histogramShown();                   // the selected pair's distributions
    void layerClicked(const QString& name);  // a row or point chosen: the base's layer

private:
    struct Opened;
    void showDiff();
    void showPlan();
    void fillTable();
    void plotSeries();
    void showPair(int diffRow);
    std::map<std::string, const quantlens::PlannedLayer*> plannedByLayer() const;
    void clearResults(const QString& message);

    std::shared_ptr<const quantlens::Model> base_, other_;
    QString otherPath_;
    std::optional<quantlens::ModelDiff> diff_;
    std::optional<quantlens::PlanAtSize> plan_;
    QLabel* title_;
    QLabel* summary_;
    QPushButton* openButton_;
    QPushButton* planButton_;
    QStandardItemModel* rows_;
    QSortFilterProxyModel* proxy_;
    QTableView* table_;
    QCustomPlot* depth_;
    QCustomPlot* bits_;
    HistogramPlot* histogram_;
    JobRunner* job_;
    JobRunner* histogramJob_;
};

}  // namespace quantlens::widgets

#pragma once
// The application window: open a model (menu, recent list, drag and drop, argument),
// list its layers, show the selected layer's weight histogram. All reading and
// statistics run through JobRunner, off the UI thread, with progress and cancel; the
// weights-only analysis (kurtosis, QSUR, outliers) runs as a core Analysis on its own thread,
// the selected layer first, and fills the table's columns as layers finish.
#include <QMainWindow>
#include <QStringList>

#include <functional>
#include <memory>
#include <vector>

#include "analysis/analysis.hpp"
#include "model/inspection.hpp"
#include "model/model.hpp"

class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QComboBox;
class QCheckBox;
class QMenu;
class QTabWidget;

namespace quantlens {
struct SensitivityReport;
}
namespace quantlens::widgets {
class HistogramPlot;
class JobRunner;
class LayerInspector;
class ComparePanel;
class DiffPanel;
class AllocationPanel;
class SensitivityPanel;
class LayerTableModel;
class ColumnChooser;
}  // namespace quantlens::widgets

namespace quantlens::gui {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // For tests and automation.
    widgets::LayerTableModel* layerModel() const { return layerModel_; }
    widgets::HistogramPlot* histogram() const { return histogram_; }
    QTableView* layerTable() const { return table_; }
    widgets::ColumnChooser* columnChooser() const { return columns_; }
    widgets::LayerInspector* inspector() const { return inspector_; }
    widgets::ComparePanel* comparePanel() const { return compare_; }
    widgets::DiffPanel* diffPanel() const { return diff_; }
    widgets::AllocationPanel* allocationPanel() const { return allocation_; }
    widgets::SensitivityPanel* sensitivityPanel() const { return sensitivity_; }
    // The export dialog for the model and plan on screen (owned by the window).
    class ExportDialog* openExportDialog();
    class QTabWidget* views() const {
        return views_;
    }
    void showView(QWidget* view);  // the tab holding one of the views above
    static QSize fittedWindowSize(QSize wanted, QSize available);
    bool isBusy() const;
    // The long jobs a quit would stop, as a user reads them; closing asks first when any run.
    QStringList longJobsRunning() const;
    // Replaces the question box (tests): returns whether to quit while `jobs` run.
    void setQuitConfirmation(std::function<bool(const QStringList&)> confirm);
    void showHelp();  // F1
    class QDialog* helpDialog() const {
        return help_;
    }
    QString lastError() const { return lastError_; }
    bool isAnalysing() const;
    widgets::JobRunner* sqnrJob() const { return sqnrJob_; }
    widgets::JobRunner* modelMetricsJob() const { return modelJob_; }
    bool exportLayerTable(const QString& path);  // CSV of the table as shown

public slots:
    void openModel(const QString& path);
    void selectLayer(const QString& name);  // by layer name; nothing happens when absent
    // File ▸ Compare With: `path` diffed against the open model in the Diff view (docs/diff.md).
    void compareWith(const QString& path);
    void openCalibration(const QString& path);  // layer inputs for GPTQ and smoothing previews
    // A llama.cpp importance matrix for the open model: the ggml types quantize with it and the
    // metrics gain the importance-weighted error (the CLI's --imatrix).
    void openImportanceMatrix(const QString& path);
    // Labelled or token data for the model metrics (Sensitivity view) and the model-based damage
    // of the Allocate view; the app's --calib.
    void setModelCalibration(const QString& path);
    // View ▸ QSUR in OSTQuant's principal-axes form too: re-analyses with it (docs/metrics.md §5).
    void setQsurPrincipalAxes(bool on);
    // File ▸ Import Sensitivity Report: a report made elsewhere, checked against this model, shown
    // as the model metrics are and used by Allocate (sensitivity/sensitivity_import).
    void importSensitivityReport(const QString& path);
    // Model-based sensitivity (Hessian, LRP, measured Δloss, …) under the Quantize view's spec, into the
    // sensitivity view.
    void runModelMetrics(const QString& labelledData);

signals:
    void modelLoaded();
    void histogramShown();
    void analysisFinished();  // every layer's statistics and QSUR are in the table
    void errorShown(const QString& message);
    // A model-metrics run's estimated time and memory, said as it starts (shown in the status line)
    void modelMetricsEstimated(const QString& summary);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void showModelMetrics(const quantlens::SensitivityReport& report);
    void buildTable();
    void buildViews();
    void buildMenus();
    void buildStatusBar();
    void connectViews();
    void connectJobs();
    void restoreSettings();
    void showWelcome();
    void rememberRecent(const QString& path);
    void rebuildRecentMenu();
    void showError(const QString& message);
    void showAbout();
    void onSelectionChanged();
    void showLayerHistogram();
    int selectedSourceRow() const;                     // the selected layer's row in layerModel_, or -1
    const quantlens::LayerRow* selectedLayer() const;  // the selected layer, or nullptr
    void showLayerDetails();
    void startAnalysis();
    void stopAnalysis();
    void onLayerAnalysed(std::uint64_t generation, const quantlens::LayerAnalysis& analysis);
    void updateSensitivity();
    void measureSqnr();

    // Shared with the views and their jobs; not const only so an importance matrix can be attached
    // (Model::attach_importance is safe while jobs run).
    std::shared_ptr<quantlens::Model> model_;
    widgets::LayerTableModel* layerModel_;
    QSortFilterProxyModel* proxy_;
    QTableView* table_;
    widgets::ColumnChooser* columns_ = nullptr;
    class QDialog* help_ = nullptr;
    std::function<bool(const QStringList&)> confirmQuit_;
    QLineEdit* filter_;
    QComboBox* kindFilter_;
    widgets::HistogramPlot* histogram_;
    widgets::LayerInspector* inspector_;
    widgets::ComparePanel* compare_;
    widgets::DiffPanel* diff_;
    widgets::AllocationPanel* allocation_;
    widgets::SensitivityPanel* sensitivity_;
    QTabWidget* views_;
    QLabel* layerInfo_;
    QLabel* statusText_;
    QProgressBar* progress_;
    QPushButton* cancel_;
    QMenu* recentMenu_ = nullptr;
    widgets::JobRunner* loader_;
    widgets::JobRunner* histogramJob_;
    widgets::JobRunner* sqnrJob_;
    widgets::JobRunner* modelJob_;
    QProgressBar* analysisProgress_;
    std::unique_ptr<quantlens::Analysis> analysis_;  // weights-only metrics, on its own thread
    // Cancelled analyses finishing their layer in flight: joined when done or with the window,
    // never on the UI thread while the user waits.
    std::vector<std::unique_ptr<quantlens::Analysis>> retired_;
    std::uint64_t analysisGeneration_ = 0;  // results of a retired analysis are ignored
    bool analysisCancelled_ = false;
    bool qsurPrincipalAxes_ = false;
    QString lastError_;
};

}  // namespace quantlens::gui

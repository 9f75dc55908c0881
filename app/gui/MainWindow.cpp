#include "MainWindow.hpp"

#include "files/FileDialogs.hpp"

#include <algorithm>
#include <optional>

#include <QAction>
#include <QActionGroup>
#include <QDialog>
#include <QFile>
#include <QTextBrowser>
#include <QApplication>
#include <QPointer>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QClipboard>
#include <QSaveFile>
#include <QScreen>
#include <QScrollArea>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

#include "export/export_common.hpp"
#include "files/OutputCheck.hpp"
#include "io/imatrix.hpp"
#include "jobs/JobRunner.hpp"
#include "model/inspection.hpp"
#include "models/LayerTableModel.hpp"
#include "Appearance.hpp"
#include "ExportDialog.hpp"
#include "panels/AllocationPanel.hpp"
#include "panels/ComparePanel.hpp"
#include "panels/DiffPanel.hpp"
#include "panels/SpecEditor.hpp"
#include "quant/calibration_inputs.hpp"
#include "quant/comparison.hpp"
#include "sensitivity/sensitivity_import.hpp"
#include "sensitivity/cost_estimate.hpp"
#include "sensitivity/sensitivity_report.hpp"
#include "panels/SensitivityPanel.hpp"
#include "panels/LayerInspector.hpp"
#include "plots/HistogramPlot.hpp"
#include "tables/ColumnChooser.hpp"
#include "tables/FrozenTableView.hpp"
#include "stats/histogram.hpp"
#include "stats/rank_correlation.hpp"
#include "util/versions.hpp"

// The window's resources (icon, help page) live in the static quantlens_gui library, so they
// are registered by whoever builds the window: the app and the Qt tests alike.
static void register_resources() {
    Q_INIT_RESOURCE(quantlens);
}

namespace quantlens::gui {

namespace {

constexpr int kMaxRecent = 10;
constexpr std::uint64_t kAutoSqnrParameters = 200'000'000;
constexpr std::size_t kHistogramBins = 256;
// The table's columns the model metrics fill: shown once those metrics have run.
constexpr int kModelMetricColumns[] = {widgets::LayerTableModel::HessianTrace,
                                       widgets::LayerTableModel::LrpScore,
                                       widgets::LayerTableModel::DeltaLoss};

struct Loaded {
    std::shared_ptr<quantlens::Model> model;
    quantlens::Inspection inspection;
    QString path;  // as the user named it, for Recent Files once it has opened
};

struct LayerHistogram {
    quantlens::Histogram histogram;
    std::optional<quantlens::Histogram> central;  // the middle 99.9% of the values, when asked for
    QString title;
};

// Name filter (regex, case-insensitive) plus a kind filter.
class LayerFilter : public QSortFilterProxyModel {
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setKind(const QString& kind) {
        kind_ = kind;
        invalidateFilter();
    }

protected:
    // Layers without a figure (norms have no kurtosis) sort last in either order, so a ranked
    // column reads from the most sensitive layer down.
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override {
        const QVariant a = left.data(sortRole()), b = right.data(sortRole());
        if (a.isValid() != b.isValid())
            return (sortOrder() == Qt::AscendingOrder) ? a.isValid() : !a.isValid();
        return QSortFilterProxyModel::lessThan(left, right);
    }
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override {
        if (!kind_.isEmpty() &&
            sourceModel()->index(row, widgets::LayerTableModel::Kind, parent).data().toString() != kind_)
            return false;
        return QSortFilterProxyModel::filterAcceptsRow(row, parent);
    }

private:
    QString kind_;
};

}  // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      layerModel_(new widgets::LayerTableModel(this)),
      proxy_(new LayerFilter(this)),
      table_(new widgets::FrozenTableView),
      filter_(new QLineEdit),
      kindFilter_(new QComboBox),
      histogram_(new widgets::HistogramPlot),
      inspector_(new widgets::LayerInspector),
      compare_(new widgets::ComparePanel),
      diff_(new widgets::DiffPanel),
      allocation_(new widgets::AllocationPanel),
      sensitivity_(new widgets::SensitivityPanel),
      views_(new QTabWidget),
      layerInfo_(new QLabel),
      statusText_(new QLabel),
      progress_(new QProgressBar),
      cancel_(new QPushButton(tr("Cancel"))),
      loader_(new widgets::JobRunner(this)),
      histogramJob_(new widgets::JobRunner(this)),
      sqnrJob_(new widgets::JobRunner(this)),
      modelJob_(new widgets::JobRunner(this)),
      analysisProgress_(new QProgressBar) {
    register_resources();
    buildTable();
    buildViews();
    buildMenus();
    buildStatusBar();
    connectViews();
    connectJobs();
    restoreSettings();
    showWelcome();
}

// What an empty window offers: what to open, and what each view does with it.
void MainWindow::showWelcome() {
    histogram_->clear(tr("Open a model to begin"));
    layerInfo_->setText(
        tr("<p><b>Open a model</b> with File ▸ Open Model File (Ctrl+O): safetensors, GGUF, HDF5 or Keras "
           ".h5, ONNX, NumPy; or File ▸ Open Hugging Face Folder; or drop it here.</p>"
           "<p><b>Layer</b>: the selected layer's weight histogram and statistics. "
           "<b>Quantize</b>: a spec's levels, error and error map on the layer, live. "
           "<b>Sensitivity</b>: per-layer metrics along the depth, and the model metrics (Hessian, LRP, "
           "measured Δloss) from calibration data. "
           "<b>Compare</b>: specs side by side on a layer or the whole model. "
           "<b>Allocate</b>: mixed precision under a budget, then export (Ctrl+E). "
           "<b>Diff</b>: the model against another version of it (File ▸ Compare With).</p>"
           "<p>Help ▸ QuantLens Help (F1) says more.</p>"));
}

// The layer table, its filters and the proxy that sorts and filters it.
void MainWindow::buildTable() {
    setWindowTitle(tr("QuantLens"));
    setAcceptDrops(true);

    proxy_->setSourceModel(layerModel_);
    proxy_->setSortRole(Qt::UserRole);
    proxy_->setFilterKeyColumn(widgets::LayerTableModel::Name);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->sortByColumn(-1, Qt::AscendingOrder);  // file order until the user sorts
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setWordWrap(false);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
    columns_ = new widgets::ColumnChooser(table_, QStringLiteral("table/hiddenColumns"), this);
    for (int column : kModelMetricColumns)
        columns_->setAvailable(column, false);  // until the model metrics run

    filter_->setPlaceholderText(tr("Filter layers by name (regular expression)"));
    filter_->setClearButtonEnabled(true);
    kindFilter_->addItem(tr("All kinds"), QString());
    for (auto kind :
         {quantlens::LayerKind::Linear, quantlens::LayerKind::Conv, quantlens::LayerKind::Embedding,
          quantlens::LayerKind::Norm, quantlens::LayerKind::Other}) {
        QString name = QString::fromUtf8(quantlens::layer_kind_name(kind).data());
        kindFilter_->addItem(name, name);
    }
}

// The layer table beside the tabbed views, in a splitter.
void MainWindow::buildViews() {
    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    auto* filters = new QHBoxLayout;
    filters->addWidget(filter_, 1);
    filters->addWidget(kindFilter_);
    leftLayout->addLayout(filters);
    leftLayout->addWidget(table_);

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    layerInfo_->setWordWrap(true);
    layerInfo_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    rightLayout->addWidget(histogram_, 1);
    rightLayout->addWidget(layerInfo_);

    // Each view scrolls when the window is smaller than its plots need (a small screen, or a large
    // scale factor), instead of squeezing them until they overlap.
    const auto addView = [this](QWidget* view, const QString& title) {
        auto* area = new QScrollArea;
        area->setWidget(view);
        area->setWidgetResizable(true);
        area->setFrameShape(QFrame::NoFrame);
        views_->addTab(area, title);
    };
    addView(right, tr("Layer"));
    addView(inspector_, tr("Quantize"));
    addView(sensitivity_, tr("Sensitivity"));
    addView(compare_, tr("Compare"));
    addView(allocation_, tr("Allocate"));
    addView(diff_, tr("Diff"));

    auto* splitter = new QSplitter;
    splitter->addWidget(left);
    splitter->addWidget(views_);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    splitter->setSizes({800, 640});  // the table's analysis columns visible at the default size
    setCentralWidget(splitter);
}

// What the views and the table tell each other.
void MainWindow::connectViews() {
    histogram_->offerCentralRange(true);
    connect(histogram_, &widgets::HistogramPlot::xRangeChanged, this, [this](auto range) {
        if (range == widgets::HistogramPlot::XRange::Central)
            showLayerHistogram();
    });
    connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
        proxy_->setFilterRegularExpression(
            QRegularExpression(text, QRegularExpression::CaseInsensitiveOption));
    });
    connect(kindFilter_, &QComboBox::currentIndexChanged, this,
            [this] { static_cast<LayerFilter*>(proxy_)->setKind(kindFilter_->currentData().toString()); });

    connect(allocation_, &widgets::AllocationPanel::failed, this, &MainWindow::showError);
    // A click on a layer's bar or point selects the layer in the table.
    connect(allocation_, &widgets::AllocationPanel::layerClicked, this, &MainWindow::selectLayer);
    connect(sensitivity_, &widgets::SensitivityPanel::layerClicked, this, &MainWindow::selectLayer);
    connect(diff_, &widgets::DiffPanel::layerClicked, this, &MainWindow::selectLayer);
    connect(allocation_, &widgets::AllocationPanel::planChanged, this, [this] {
        std::map<std::string, std::string> assigned;
        if (const auto* plan = allocation_->plan())
            for (const auto& [layer, spec] : plan->layers)
                assigned[layer] = spec.to_string();
        layerModel_->setAssignments(assigned);
    });
    // Small models get the SQNR column at every spec change; on large ones it is one click away
    // (View ▸ Measure SQNR on Every Layer), as it quantizes the whole model.
    connect(inspector_->specEditor(), &widgets::SpecEditor::specChanged, this, [this] {
        if (layerModel_->inspection().parameters <= kAutoSqnrParameters)
            measureSqnr();
    });
    connect(sensitivity_, &widgets::SensitivityPanel::modelMetricsOn, this, &MainWindow::runModelMetrics);
    sensitivity_->setMetricsSpec(inspector_->specEditor()->specText());
    connect(inspector_->specEditor(), &widgets::SpecEditor::specChanged, sensitivity_,
            &widgets::SensitivityPanel::setMetricsSpec);
    connect(sensitivity_, &widgets::SensitivityPanel::modelMetricsRequested, this, [this] {
        const auto path = widgets::openFileDialog(
            this, tr("Calibration data: x and y for a classifier, input_ids or text for a language model"),
            tr("Arrays and text (*.npz *.h5 *.safetensors *.txt);;All files (*)"));
        if (path.isEmpty())
            return;
        setModelCalibration(path);  // the next run takes it without asking
        runModelMetrics(path);
    });
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &MainWindow::onSelectionChanged);
}

// What each background job delivers, and the shared progress bar and error display.
void MainWindow::connectJobs() {
    connect(modelJob_, &widgets::JobRunner::finished, this, [this](const std::any& result) {
        showModelMetrics(*std::any_cast<std::shared_ptr<quantlens::SensitivityReport>>(result));
    });
    connect(sqnrJob_, &widgets::JobRunner::finished, this, [this](const std::any& result) {
        const auto measured =
            std::any_cast<std::shared_ptr<std::pair<QString, std::map<std::string, double>>>>(result);
        layerModel_->setSqnr(measured->first, measured->second);
        table_->resizeColumnToContents(widgets::LayerTableModel::Sqnr);
    });
    connect(loader_, &widgets::JobRunner::finished, this, [this](const std::any& result) {
        auto loaded = std::any_cast<std::shared_ptr<Loaded>>(result);
        model_ = loaded->model;
        rememberRecent(loaded->path);  // only files that opened
        const auto& inspection = loaded->inspection;
        statusText_->setText(tr("%1 — %2 layers, %3 parameters, %4 (%5)")
                                 .arg(QFileInfo(QString::fromStdString(inspection.path)).fileName())
                                 .arg(inspection.layers.size())
                                 .arg(QLocale().toString(static_cast<qulonglong>(inspection.parameters)))
                                 .arg(QLocale().formattedDataSize(static_cast<qint64>(inspection.bytes)))
                                 .arg(QString::fromStdString(inspection.format)));
        if (!inspection.left_out.empty()) {  // never a silently smaller model
            const QString parameters =
                QLocale().toString(static_cast<qulonglong>(inspection.left_out_parameters));
            statusText_->setText(statusText_->text() +
                                 (inspection.left_out.size() == 1
                                      ? tr(" — 1 tensor (%1 parameters) left out, unreadable").arg(parameters)
                                      : tr(" — %1 tensors (%2 parameters) left out, unreadable")
                                            .arg(inspection.left_out.size())
                                            .arg(parameters)));
            statusText_->setToolTip(QString::fromStdString(left_out_summary(inspection.left_out)));
        } else {
            statusText_->setToolTip({});
        }
        setWindowTitle(tr("QuantLens — %1").arg(QString::fromStdString(inspection.path)));
        layerModel_->setInspection(loaded->inspection);
        for (int column : kModelMetricColumns)
            columns_->setAvailable(column, false);  // until the model metrics run
        table_->resizeColumnsToContents();
        histogram_->clear(tr("Select a layer"));
        inspector_->clear();
        sensitivity_->clearExtraSeries();
        allocation_->setModel(model_);
        diff_->setModel(model_);
        layerInfo_->clear();
        if (layerModel_->rowCount() > 0)
            table_->selectRow(0);
        startAnalysis();
        if (layerModel_->inspection().parameters <= kAutoSqnrParameters)
            measureSqnr();
        emit modelLoaded();
    });
    connect(histogramJob_, &widgets::JobRunner::finished, this, [this](const std::any& result) {
        auto shown = std::any_cast<std::shared_ptr<LayerHistogram>>(result);
        if (shown->central)
            histogram_->setHistograms(shown->histogram, *shown->central, shown->title);
        else
            histogram_->setHistogram(shown->histogram, shown->title);
        emit histogramShown();
    });
    for (auto* job : {loader_, histogramJob_, inspector_->job(), compare_->job(), allocation_->job(),
                      sqnrJob_, modelJob_, diff_->job(), diff_->histogramJob()}) {
        connect(job, &widgets::JobRunner::started, this, [this](const QString& title) {
            progress_->setValue(0);
            progress_->show();
            cancel_->show();
            progress_->setFormat(title + " %p%");
        });
        connect(job, &widgets::JobRunner::progressed, this, [this](double fraction, const QString&) {
            progress_->setValue(static_cast<int>(fraction * 100));
        });
        auto done = [this] {
            if (isBusy())
                return;
            progress_->hide();
            if (!isAnalysing())
                cancel_->hide();
        };
        connect(job, &widgets::JobRunner::finished, this, done);
        connect(job, &widgets::JobRunner::failed, this, [this, done](const QString& message) {
            done();
            showError(message);
        });
        connect(job, &widgets::JobRunner::cancelled, this, [this, done] {
            done();
            statusBar()->showMessage(tr("Cancelled"), 3000);
        });
    }
}

// The specs, candidates and window geometry of the last session.
void MainWindow::restoreSettings() {
    QSettings settings;
    inspector_->specEditor()->setSpecText(
        settings.value("specs/preview", QStringLiteral("int4:g128:asym")).toString());
    compare_->setSpecs(
        settings
            .value("specs/compare", QStringList{QStringLiteral("int4:g128:asym"), QStringLiteral("nf4:g64"),
                                                QStringLiteral("q4_0")})
            .toStringList());
    allocation_->setCandidates(
        settings.value("specs/candidates", allocation_->candidates()).toString(),  // core default
        settings.value("specs/embedding_candidates").toString());
    const bool restored = restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    const QScreen* screen = this->screen() ? this->screen() : QGuiApplication::primaryScreen();
    const QRect available = screen ? screen->availableGeometry() : QRect(0, 0, 1440, 860);
    if (!restored) {
        resize(fittedWindowSize(QSize(1440, 860), available.size()));
        move(available.center() - rect().center());
    } else if (!available.contains(geometry())) {  // saved on a larger screen or at a smaller scale
        resize(fittedWindowSize(size(), available.size()));
        move(std::clamp(x(), available.left(), std::max(available.left(), available.right() - width())),
             std::clamp(y(), available.top(), std::max(available.top(), available.bottom() - height())));
    }
}

// At most `wanted`, and at most 92% of the screen's available area (in device-independent
// pixels, so a scale factor of 2 halves it), leaving room for the window frame.
QSize MainWindow::fittedWindowSize(QSize wanted, QSize available) {
    return wanted.boundedTo(QSize(available.width() * 92 / 100, available.height() * 92 / 100));
}

void MainWindow::showView(QWidget* view) {
    for (int i = 0; i < views_->count(); ++i)
        if (auto* area = qobject_cast<QScrollArea*>(views_->widget(i)); area && area->widget() == view)
            views_->setCurrentIndex(i);
}

MainWindow::~MainWindow() {
    stopAnalysis();
    retired_.clear();  // joins: their callbacks name this window, which must outlive them
}

bool MainWindow::isBusy() const {
    return loader_->isRunning() || histogramJob_->isRunning() || inspector_->job()->isRunning() ||
           compare_->job()->isRunning() || allocation_->job()->isRunning() || sqnrJob_->isRunning() ||
           modelJob_->isRunning() || diff_->job()->isRunning() || diff_->histogramJob()->isRunning();
}

// Counted on the table, not on the Analysis: its worker may be done while finished layers are
// still queued for the UI thread.
bool MainWindow::isAnalysing() const {
    return analysis_ && !analysisCancelled_ &&
           static_cast<std::size_t>(layerModel_->analysedRows()) < analysis_->layer_count();
}

void MainWindow::setQsurPrincipalAxes(bool on) {
    if (on == qsurPrincipalAxes_)
        return;
    qsurPrincipalAxes_ = on;
    if (model_)
        startAnalysis();  // the statistics come from the cache; QSUR is computed again, in both forms
}

void MainWindow::startAnalysis() {
    stopAnalysis();
    quantlens::AnalysisOptions
        options;  // statistics and QSUR; the on-disk cache makes a reopened model instant
    options.qsur_options.principal_axes = qsurPrincipalAxes_;
    analysis_ = std::make_unique<quantlens::Analysis>(model_, options);
    analysisCancelled_ = false;
    if (const auto* row = selectedLayer())
        analysis_->prioritize(row->name);
    analysisProgress_->setRange(0, static_cast<int>(analysis_->layer_count()));
    analysisProgress_->setValue(0);
    analysisProgress_->setVisible(analysis_->layer_count() > 0);
    cancel_->setVisible(analysis_->layer_count() > 0 || isBusy());
    // Called on the analysis thread: hand a copy to the UI thread. A call still queued when
    // this window is gone is dropped by Qt (the context object no longer exists).
    const auto generation = ++analysisGeneration_;
    analysis_->start({}, [this, generation](const quantlens::LayerAnalysis& layer) {
        QMetaObject::invokeMethod(
            this, [this, generation, layer] { onLayerAnalysed(generation, layer); }, Qt::QueuedConnection);
    });
}

void MainWindow::stopAnalysis() {
    std::erase_if(retired_, [](const auto& analysis) {
        return !analysis->running();
    });  // joins finished workers at once
    if (!analysis_)
        return;
    analysis_->cancel();
    retired_.push_back(std::move(analysis_));  // its layer in flight may take seconds (QSUR of a large layer)
    ++analysisGeneration_;
    analysisProgress_->hide();
}

void MainWindow::onLayerAnalysed(std::uint64_t generation, const quantlens::LayerAnalysis& layer) {
    if (!analysis_ || analysisCancelled_ || generation != analysisGeneration_)
        return;  // from an analysis already stopped
    layerModel_->setLayerAnalysis(layer);
    analysisProgress_->setValue(layerModel_->analysedRows());
    if (const auto* row = selectedLayer(); row && row->name == layer.layer)
        showLayerDetails();
    if (!isAnalysing()) {
        for (int column : {widgets::LayerTableModel::Kurtosis, widgets::LayerTableModel::Qsur,
                           widgets::LayerTableModel::Outliers})
            table_->resizeColumnToContents(column);
        updateSensitivity();
        analysisProgress_->hide();
        if (!isBusy())
            cancel_->hide();
        emit analysisFinished();
    }
}

void MainWindow::buildMenus() {
    auto* file = menuBar()->addMenu(tr("&File"));
    auto* open = file->addAction(tr("&Open Model File…"), this, [this] {
        QString path = widgets::openFileDialog(this, tr("Open model"),
                                               tr("Model files (*.safetensors *.json *.gguf *.h5 *.hdf5 "
                                                  "*.keras *.npz *.npy *.onnx);;All files (*)"));
        if (!path.isEmpty())
            openModel(path);
    });
    open->setShortcut(QKeySequence::Open);
    file->addAction(tr("Open Hugging Face &Folder…"), this, [this] {
        QString path = widgets::openFolderDialog(this, tr("Open Hugging Face model folder"));
        if (!path.isEmpty())
            openModel(path);
    });
    file->addAction(tr("Open &Calibration Inputs…"), this, [this] {
        const auto path =
            widgets::openFileDialog(this, tr("Open calibration inputs (samples × features)"),
                                    tr("Arrays (*.npy *.npz *.safetensors *.h5);;All files (*)"));
        if (!path.isEmpty())
            openCalibration(path);
    });
    file->addAction(tr("Import &Sensitivity Report…"), this, [this] {
        const auto path = widgets::openFileDialog(
            this, tr("Import a sensitivity report (quantlens-cli sensitivity --json, or a runner's)"),
            tr("Reports (*.json);;All files (*)"));
        if (!path.isEmpty())
            importSensitivityReport(path);
    });
    file->addAction(tr("Load &Importance Matrix…"), this, [this] {
        const auto path = widgets::openFileDialog(
            this, tr("Load a llama.cpp importance matrix (llama-imatrix or quantlens-cli imatrix)"),
            tr("Importance matrices (*.gguf *.dat *.imatrix);;All files (*)"));
        if (!path.isEmpty())
            openImportanceMatrix(path);
    });
    // The open model against another version of it, in the Diff view (docs/diff.md).
    file->addAction(tr("Compare &With Model File…"), this, [this] {
        const auto path = widgets::openFileDialog(
            this, tr("Compare with another version of the model (its export, a quantized checkpoint)"),
            tr("Model files (*.safetensors *.json *.gguf *.h5 *.hdf5 *.keras *.npz *.npy *.onnx);;All files "
               "(*)"));
        if (!path.isEmpty())
            compareWith(path);
    });
    file->addAction(tr("Compare With Model &Folder…"), this, [this] {
        const auto path = widgets::openFolderDialog(
            this, tr("Compare with a quantized checkpoint's folder (GPTQ, AWQ, …)"));
        if (!path.isEmpty())
            compareWith(path);
    });
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    rebuildRecentMenu();
    file->addSeparator();
    file->addAction(tr("Export Layer &Table as CSV…"), this, [this] {
        const auto path =
            widgets::saveFileDialog(this, tr("Export layer table"), QStringLiteral("layers.csv"),
                                    tr("CSV (*.csv)"), QFileDialog::DontConfirmOverwrite);
        if (!path.isEmpty())
            exportLayerTable(path);
    });
    auto* exportAction = file->addAction(tr("&Export Quantized Model…"), this, [this] {
        if (auto* dialog = openExportDialog())
            dialog->show();
    });
    exportAction->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    file->addSeparator();
    auto* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    auto* edit = menuBar()->addMenu(tr("&Edit"));
    auto* copy = edit->addAction(tr("&Copy Layer Row"), this, [this] {
        const auto rows = table_->selectionModel()->selectedRows();
        if (rows.isEmpty())
            return;
        QStringList cells;
        for (int c = 0; c < proxy_->columnCount(); ++c)
            cells << proxy_->index(rows.first().row(), c).data().toString();
        QApplication::clipboard()->setText(cells.join(QLatin1Char('\t')));
    });
    copy->setShortcut(QKeySequence::Copy);
    auto* view = menuBar()->addMenu(tr("&View"));
    auto* find = view->addAction(tr("&Filter Layers"), this, [this] {
        filter_->setFocus();
        filter_->selectAll();
    });
    find->setShortcut(QKeySequence::Find);
    view->addAction(tr("Measure &SQNR on Every Layer"), this, &MainWindow::measureSqnr);
    auto* axes = view->addAction(tr("QSUR in OSTQuant's &Principal-Axes Form Too (slower)"));
    axes->setCheckable(true);
    axes->setToolTip(
        tr("Also compute QSUR from the cube the principal axes' endpoints span, as the OSTQuant "
           "paper builds it (an eigendecomposition per layer, about 9x the default QSUR's time)"));
    connect(axes, &QAction::toggled, this, &MainWindow::setQsurPrincipalAxes);
    view->addSeparator();
    // Ctrl+1 … Ctrl+6: the views in tab order.
    for (int i = 0; i < views_->count(); ++i) {
        auto* show = view->addAction(views_->tabText(i), this, [this, i] { views_->setCurrentIndex(i); });
        show->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
    }
    auto* help = menuBar()->addMenu(tr("&Help"));
    auto* contents = help->addAction(tr("QuantLens &Help"), this, &MainWindow::showHelp);
    contents->setShortcut(QKeySequence::HelpContents);
    help->addAction(tr("&About QuantLens"), this, &MainWindow::showAbout);

    view->addSeparator();
    auto* appearance = view->addMenu(tr("&Appearance"));
    auto* group = new QActionGroup(this);
    const Appearance saved = saved_appearance();
    for (auto [choice, label] :
         {std::pair{Appearance::System, tr("Follow the &System")}, std::pair{Appearance::Light, tr("&Light")},
          std::pair{Appearance::Dark, tr("&Dark")}}) {
        auto* action = appearance->addAction(label, this, [choice] {
            apply_appearance(choice);
            save_appearance(choice);
        });
        action->setCheckable(true);
        action->setChecked(choice == saved);
        group->addAction(action);
    }
}

void MainWindow::showHelp() {
    if (!help_) {
        help_ = new QDialog(this);
        help_->setWindowTitle(tr("QuantLens Help"));
        auto* browser = new QTextBrowser;
        QFile page(QStringLiteral(":/quantlens/help.html"));
        if (page.open(QIODevice::ReadOnly))
            browser->setHtml(QString::fromUtf8(page.readAll()));
        auto* layout = new QVBoxLayout(help_);
        layout->addWidget(browser);
        help_->resize(MainWindow::fittedWindowSize(QSize(640, 720), size()));
    }
    help_->show();
    help_->raise();
}

QStringList MainWindow::longJobsRunning() const {
    QStringList jobs;
    if (isAnalysing())
        jobs << tr("the layer analysis");
    if (modelJob_->isRunning())
        jobs << tr("the model metrics");
    if (compare_->job()->isRunning())
        jobs << tr("a comparison");
    if (allocation_->job()->isRunning())
        jobs << tr("the allocation's measurements");
    if (diff_->job()->isRunning())
        jobs << tr("a diff against another version of the model");
    if (sqnrJob_->isRunning())
        jobs << tr("the SQNR of every layer");
    for (const auto* dialog : findChildren<ExportDialog*>())
        if (dialog->job()->isRunning())
            jobs << tr("an export (cancelled safely: nothing half-written is left)");
    return jobs;
}

void MainWindow::setQuitConfirmation(std::function<bool(const QStringList&)> confirm) {
    confirmQuit_ = std::move(confirm);
}

void MainWindow::buildStatusBar() {
    analysisProgress_->setMaximumWidth(200);
    analysisProgress_->setFormat(tr("Analysis %v/%m layers"));
    analysisProgress_->hide();
    statusBar()->addPermanentWidget(analysisProgress_);
    progress_->setMaximumWidth(260);
    progress_->setRange(0, 100);
    progress_->hide();
    cancel_->hide();
    statusBar()->addWidget(statusText_, 1);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(cancel_);
    statusText_->setText(tr("Open a model: File ▸ Open, or drop a file or folder here"));
    connect(cancel_, &QPushButton::clicked, this, [this] {
        loader_->cancel();
        histogramJob_->cancel();
        inspector_->job()->cancel();
        compare_->job()->cancel();
        allocation_->job()->cancel();
        sqnrJob_->cancel();
        modelJob_->cancel();
        diff_->job()->cancel();
        diff_->histogramJob()->cancel();
        if (analysis_)
            analysis_->cancel();  // finished layers stay in the table and the cache
        analysisCancelled_ = true;
        analysisProgress_->hide();
        if (!isBusy())
            cancel_->hide();
    });
}

void MainWindow::openModel(const QString& path) {
    lastError_.clear();
    stopAnalysis();
    histogramJob_->cancel();
    statusText_->setText(tr("Opening %1…").arg(path));
    const std::string file = path.toStdString();
    loader_->start(
        tr("Reading"),
        [file, path](const quantlens::Progress& progress, const quantlens::CancelToken& cancel) -> std::any {
            auto loaded = std::make_shared<Loaded>();
            loaded->path = path;
            auto model = std::make_shared<quantlens::Model>(quantlens::Model::open(file));
            loaded->inspection = quantlens::inspect_model(*model, true, progress, &cancel);
            loaded->model = model;
            return loaded;
        });
}

void MainWindow::compareWith(const QString& path) {
    if (!model_) {
        showError(tr("Open a model first: it is the base %1 is compared with").arg(path));
        return;
    }
    showView(diff_);
    diff_->compareWith(path);
}

void MainWindow::selectLayer(const QString& name) {
    for (int row = 0; row < layerModel_->rowCount(); ++row) {
        if (layerModel_->index(row, widgets::LayerTableModel::Name).data().toString() != name)
            continue;
        QModelIndex index = proxy_->mapFromSource(layerModel_->index(row, 0));
        if (!index.isValid()) {  // filtered out: show every layer again rather than select nothing
            filter_->clear();
            kindFilter_->setCurrentIndex(0);
            index = proxy_->mapFromSource(layerModel_->index(row, 0));
        }
        if (index.isValid())
            table_->selectRow(index.row());
        return;
    }
}

int MainWindow::selectedSourceRow() const {
    const auto rows = table_->selectionModel()->selectedRows();
    return rows.isEmpty() ? -1 : proxy_->mapToSource(rows.first()).row();
}

const quantlens::LayerRow* MainWindow::selectedLayer() const {
    const int source = selectedSourceRow();
    return source < 0 ? nullptr : layerModel_->layerAt(source);
}

void MainWindow::showLayerDetails() {
    const int source = selectedSourceRow();
    const auto* row = source < 0 ? nullptr : layerModel_->layerAt(source);
    if (!row)
        return;
    QString details =
        tr("<b>%1</b> — %2%3<br>weight shape %4 (output channels first), %5 parameters")
            .arg(QString::fromStdString(row->name).toHtmlEscaped())
            .arg(QString::fromUtf8(quantlens::layer_kind_name(row->kind).data()))
            .arg(row->op.empty() ? QString() : QStringLiteral(" (%1)").arg(QString::fromStdString(row->op)))
            .arg(QString::fromStdString(quantlens::shape_text(row->shape)))
            .arg(QLocale().toString(static_cast<qulonglong>(row->parameters)));
    for (const auto& tensor : row->tensors)
        details += QStringLiteral("<br>%1: %2 %3")
                       .arg(QString::fromStdString(tensor.name).toHtmlEscaped(),
                            QString::fromStdString(tensor.stored_type),
                            QString::fromStdString(quantlens::shape_text(tensor.shape)));
    if (const auto* analysis = layerModel_->analysisAt(source)) {
        const auto& st = analysis->statistics;
        details +=
            tr("<br>kurtosis %1, skewness %2, max/mean |w| %3, outliers (>%4σ) %5 %, channel kurtosis p95 %6")
                .arg(st.excess_kurtosis, 0, 'g', 4)
                .arg(st.skewness, 0, 'g', 3)
                .arg(st.max_to_mean, 0, 'g', 3)
                .arg(st.outlier_k)
                .arg(100 * st.outlier_fraction, 0, 'f', 2)
                .arg(st.channel_kurtosis.p95, 0, 'g', 3);
        if (const auto& q = analysis->qsur)
            details +=
                tr("<br>QSUR<sup>1/d</sup> %1 (log<sub>10</sub> QSUR %2), after a Hadamard rotation %3%4")
                    .arg(q->per_dimension, 0, 'g', 3)
                    .arg(q->log10_qsur, 0, 'f', 1)
                    .arg(q->per_dimension_rotated, 0, 'g', 3)
                    .arg(q->rank_deficient
                             ? tr("; rank-deficient: fewer rows than inputs, %1 eigenvalues floored")
                                   .arg(q->floored_eigenvalues)
                             : QString());
    } else if (analysis_) {
        details += tr("<br><i>Statistics and QSUR are being computed…</i>");
    }
    layerInfo_->setText(details);
}

void MainWindow::onSelectionChanged() {
    const auto* row = selectedLayer();
    if (!row || !model_)
        return;
    if (analysis_)
        analysis_->prioritize(row->name);  // the layer on screen goes next
    showLayerDetails();
    inspector_->setLayer(model_, QString::fromStdString(row->name));
    compare_->setLayer(model_, QString::fromStdString(row->name));
    showLayerHistogram();
}

// The selected layer's histogram, and its central 99.9% only while that range is chosen (it
// sorts a copy of the layer: not worth doing at every selection).
void MainWindow::showLayerHistogram() {
    const auto* row = selectedLayer();
    if (!row || !model_)
        return;
    auto model = model_;
    const std::string name = row->name;
    const bool central = histogram_->xRange() == widgets::HistogramPlot::XRange::Central;
    histogramJob_->start(
        tr("Histogram"),
        [model, name, central](const quantlens::Progress&, const quantlens::CancelToken& cancel) -> std::any {
            const auto& layer = model->layer(name);
            auto weights = model->read_weights(layer);
            cancel.throw_if_cancelled();
            auto shown = std::make_shared<LayerHistogram>();
            shown->histogram = quantlens::histogram(weights.values(), kHistogramBins);
            cancel.throw_if_cancelled();
            if (central)
                shown->central = quantlens::central_histogram(weights.values(), kHistogramBins);
            shown->title = QString::fromStdString(name);
            return shown;
        });
}

void MainWindow::runModelMetrics(const QString& labelledData) {
    if (!model_)
        return;
    auto model = model_;
    const std::string path = labelledData.toStdString();
    quantlens::SensitivityRequest request;
    request.specs = {inspector_->specEditor()->spec()};
    const auto budget = sensitivity_->hutchinsonBudget();
    request.hessian_options.hutchinson.max_samples = budget.max_samples;
    request.hessian_options.hutchinson.tolerance = budget.tolerance;
    request.hessian_options.hutchinson.joint = budget.joint;
    // The cost is said before the work: the estimate comes back to the UI thread as the run starts
    QPointer<MainWindow> window(this);
    request.on_estimate = [window](const quantlens::CostEstimate& estimate) {
        const auto summary = QString::fromStdString(quantlens::summary(estimate));
        QMetaObject::invokeMethod(
            qApp,
            [window, summary] {
                if (!window)
                    return;
                window->statusText_->setText(tr("Model metrics: %1").arg(summary));
                emit window->modelMetricsEstimated(summary);
            },
            Qt::QueuedConnection);
    };
    modelJob_->start(
        tr("Model metrics under %1").arg(QString::fromStdString(request.specs.front().to_string())),
        [model, path, request](const quantlens::Progress& progress,
                               const quantlens::CancelToken& cancel) -> std::any {
            const auto data = quantlens::load_model_data(*model, path);
            return std::make_shared<quantlens::SensitivityReport>(
                quantlens::model_sensitivity(*model, data, request, progress, &cancel));
        });
}

// The model-based series join the sensitivity view's plots; the line above them says how each
// predictor ranks against the measured Δloss, best first, so the one to trust is read at a glance.
void MainWindow::showModelMetrics(const quantlens::SensitivityReport& report) {
    std::map<std::string, double> traces, perParameter;
    for (const auto& layer : report.layers)
        if (layer.hessian) {
            traces[layer.layer] = layer.hessian->hutchinson.trace;
            perParameter[layer.layer] =
                layer.hessian->hutchinson.trace /
                static_cast<double>(std::max<std::size_t>(layer.hessian->parameters, 1));
        }
    sensitivity_->setExtraSeries("hessian_trace", traces);
    sensitivity_->setExtraSeries("hessian_trace_per_parameter", perParameter);
    std::map<std::string, double> lrp, deltaLoss;
    for (const auto& layer : report.layers) {
        if (layer.lrp)
            lrp[layer.layer] = layer.lrp->contribution;
        if (layer.damage && !layer.damage->delta_loss.empty())
            deltaLoss[layer.layer] = layer.damage->delta_loss.front();
    }
    const bool any[] = {!traces.empty(), !lrp.empty(), !deltaLoss.empty()};
    layerModel_->setModelMetrics(
        report.specs.empty() ? QString() : QString::fromStdString(report.specs.front().to_string()), traces,
        lrp, deltaLoss);
    int shown = 0;
    for (int column : kModelMetricColumns) {
        columns_->setAvailable(column, any[shown++]);  // a column appears once its metric has finished
        table_->resizeColumnToContents(column);
    }
    for (const auto& [name, values] : quantlens::sensitivity_series(report, 0)) {
        if (name == "weight_mse" || name == "kurtosis" || name == "mmr" || name == "qsur")
            continue;  // the weights-only series have them
        std::map<std::string, double> byLayer;
        for (std::size_t i = 0; i < values.size(); ++i)
            if (std::isfinite(values[i]))
                byLayer[report.layers[i].layer] = values[i];
        sensitivity_->setExtraSeries(name, byLayer);
    }
    const QString spec =
        report.specs.empty() ? QString() : QString::fromStdString(report.specs.front().to_string());
    const auto ranked = quantlens::ranked_predictors(report, spec.toStdString());
    QStringList parts;
    std::size_t layers = 0;
    for (const auto& a : ranked) {
        const QString item = tr("%1 %2")
                                 .arg(QString::fromStdString(quantlens::predictor_label(a.predictor)))
                                 .arg(a.rho, 0, 'f', 2);
        parts << (parts.isEmpty() ? QStringLiteral("<b>%1</b>").arg(item) : item);
        layers = std::max(layers, a.layers);
    }
    QString notes;
    if (!ranked.empty()) {  // how far the best agreement can be trusted (docs/metrics.md §4)
        const double p = quantlens::spearman_p_value(ranked.front().rho, ranked.front().layers);
        if (std::isfinite(p))
            notes += p >= 0.05
                         ? tr("<br>The best ρ is weak with %1 layers (p = %2): it could arise by chance, so "
                              "no predictor is confirmed on this model.")
                               .arg(ranked.front().layers)
                               .arg(p, 0, 'g', 2)
                         : tr("<br>The best ρ has p = %1 over %2 layers.")
                               .arg(p, 0, 'g', 2)
                               .arg(ranked.front().layers);
    }
    const auto negative =
        std::count_if(deltaLoss.begin(), deltaLoss.end(), [](const auto& e) { return e.second < 0; });
    if (negative > 0)
        notes +=
            tr("<br>Δloss is below zero on %1: quantizing that layer alone happened to lower the "
               "calibration loss a little. Such values are as small as the noise between layers; read them "
               "as no measurable damage.")
                .arg(negative == 1 ? tr("1 layer") : tr("%1 layers").arg(negative));
    sensitivity_->setAgreementText(
        parts.isEmpty() ? QString()
                        : tr("Spearman ρ against the measured Δloss under %1, over %2 layers: %3")
                                  .arg(spec)
                                  .arg(layers)
                                  .arg(parts.join(QStringLiteral(" · "))) +
                              notes);
    updateSensitivity();
    sensitivity_->setBarMetric(QStringLiteral("delta_loss"));
    sensitivity_->setScatterMetrics(QStringLiteral("hessian_omega"), QStringLiteral("delta_loss"));
    statusBar()->showMessage(tr("Model metrics of %1 layers from %2 samples (loss %3, accuracy %4)%5")
                                 .arg(report.layers.size())
                                 .arg(report.samples)
                                 .arg(report.loss, 0, 'g', 4)
                                 .arg(report.accuracy, 0, 'f', 3)
                                 .arg(report.from_cache ? tr(", from the cache") : QString()),
                             8000);
}

void MainWindow::setModelCalibration(const QString& path) {
    sensitivity_->setCalibration(path);
    allocation_->setCalibration(path);
}

void MainWindow::openCalibration(const QString& path) {
    try {
        auto inputs = std::make_shared<quantlens::LoadedInputs>(
            quantlens::load_calibration_inputs(path.toStdString(), ""));
        statusBar()->showMessage(tr("Calibration inputs: %1 samples × %2 features from %3 (used by "
                                    "round=gptq and smooth= on layers with %2 inputs)")
                                     .arg(inputs->inputs.samples)
                                     .arg(inputs->inputs.features)
                                     .arg(QFileInfo(path).fileName()),
                                 8000);
        inspector_->setCalibration(std::move(inputs));
    } catch (const quantlens::Error& error) {
        showError(QString::fromStdString(error.what()));
    }
}

void MainWindow::importSensitivityReport(const QString& path) {
    if (!model_) {
        showError(tr("Open a model first: a sensitivity report belongs to one model."));
        return;
    }
    try {
        const auto report = quantlens::import_sensitivity_report(*model_, path.toStdString());
        showModelMetrics(report);
        allocation_->setImportedEvidence(quantlens::evidence_of(report));
        statusBar()->showMessage(
            tr("Sensitivity report %1: %2 layers, %3 specs, %4 samples; its figures serve "
               "the Sensitivity view, the table and Allocate")
                .arg(QFileInfo(path).fileName())
                .arg(report.layers.size())
                .arg(report.specs.size())
                .arg(report.samples),
            10000);
    } catch (const quantlens::Error& error) {
        showError(QString::fromStdString(error.what()));
    }
}

void MainWindow::openImportanceMatrix(const QString& path) {
    if (!model_) {
        showError(tr("Open a model first: an importance matrix belongs to one model's weights."));
        return;
    }
    try {
        auto matrix = std::make_shared<const quantlens::ImportanceMatrix>(
            quantlens::read_importance_matrix(path.toStdString()));
        int covered = 0, weights = 0;
        for (const auto& layer : model_->layers()) {
            if (layer.weight.empty() || model_->file().tensor(layer.weight).shape.size() < 2)
                continue;
            ++weights;
            covered += matrix->entries.count(model_->importance_name(layer)) ? 1 : 0;
        }
        model_->attach_importance(matrix);
        statusBar()->showMessage(
            tr("Importance matrix %1: %2 entries, covering %3 of %4 weight matrices; the "
               "ggml types quantize with it, as llama-quantize --imatrix does")
                .arg(QFileInfo(path).fileName())
                .arg(matrix->entries.size())
                .arg(covered)
                .arg(weights),
            10000);
        allocation_->importanceChanged();
        if (const auto* row = selectedLayer()) {  // the previews again, with it
            inspector_->setLayer(model_, QString::fromStdString(row->name));
            compare_->setLayer(model_, QString::fromStdString(row->name));
        }
    } catch (const quantlens::Error& error) {
        showError(QString::fromStdString(error.what()));
    }
}

// Every quantizable layer under the spec in the Quantize view, for the table's SQNR column;
// a newer spec cancels the measurement under way.
void MainWindow::measureSqnr() {
    if (!model_)
        return;
    auto model = model_;
    const auto spec = inspector_->specEditor()->spec();
    const QString text = QString::fromStdString(spec.to_string());
    sqnrJob_->start(tr("SQNR of %1").arg(text),
                    [model, spec, text](const quantlens::Progress& progress,
                                        const quantlens::CancelToken& cancel) -> std::any {
                        const auto comparison = quantlens::compare_specs(
                            *model, quantlens::quantizable_layers(*model), {spec}, progress, &cancel);
                        auto measured = std::make_shared<std::pair<QString, std::map<std::string, double>>>();
                        measured->first = text;
                        for (const auto& layer : comparison.layers)
                            if (layer.outcomes.front().metrics)
                                measured->second[layer.layer] = layer.outcomes.front().metrics->sqnr_db;
                        return measured;
                    });
}

bool MainWindow::exportLayerTable(const QString& path) {
    const QStringList inputs = {model_ ? QString::fromStdString(quantlens::model_input(model_->file()))
                                       : QString()};
    if (const auto refusal = widgets::outputRefusal(path, inputs, false); !refusal.isEmpty()) {
        showError(refusal);
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(layerModel_->toCsv().toUtf8()) < 0 || !file.commit()) {
        showError(tr("%1: cannot write the table: %2").arg(path, file.errorString()));
        return false;
    }
    statusBar()->showMessage(tr("Wrote %1").arg(path), 4000);
    return true;
}

void MainWindow::updateSensitivity() {
    std::vector<quantlens::LayerAnalysis> analysed;  // in model order
    for (int row = 0; row < layerModel_->rowCount(); ++row)
        if (const auto* analysis = layerModel_->analysisAt(row))
            analysed.push_back(*analysis);
    sensitivity_->setSeries(quantlens::metric_series(analysed, {}));
}

ExportDialog* MainWindow::openExportDialog() {
    if (!model_) {
        showError(tr("Open a model before exporting"));
        return nullptr;
    }
    std::optional<quantlens::QuantPlan> plan;
    if (const auto* shown = allocation_->plan())
        plan = *shown;
    auto* dialog = new ExportDialog(model_, plan, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    return dialog;
}

void MainWindow::showError(const QString& message) {
    lastError_ = message;
    statusText_->setText(tr("Error: %1").arg(message));
    emit errorShown(message);
    if (!qEnvironmentVariableIsSet("QUANTLENS_NO_DIALOGS"))
        QMessageBox::warning(this, tr("QuantLens"), message);
}

void MainWindow::rememberRecent(const QString& path) {
    QSettings settings;
    QStringList recent = settings.value("recentFiles").toStringList();
    const QString absolute = QFileInfo(path).absoluteFilePath();
    recent.removeAll(absolute);
    recent.prepend(absolute);
    while (recent.size() > kMaxRecent)
        recent.removeLast();
    settings.setValue("recentFiles", recent);
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    recentMenu_->clear();
    const QStringList recent = QSettings().value("recentFiles").toStringList();
    for (const QString& path : recent)
        recentMenu_->addAction(path, this, [this, path] { openModel(path); });
    recentMenu_->setEnabled(!recent.isEmpty());
}

void MainWindow::showAbout() {
    QMessageBox::about(this, tr("About QuantLens"),
                       tr("<h3>QuantLens %1</h3><p>A workbench for quantizing model weights.</p>"
                          "<p>Qt %2 · Eigen %3 · HDF5 %4 · protobuf %5</p>")
                           .arg(QString::fromStdString(quantlens::quantlens_version()), qVersion(),
                                QString::fromStdString(quantlens::eigen_version()),
                                QString::fromStdString(quantlens::hdf5_version()),
                                QString::fromStdString(quantlens::protobuf_version())));
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const auto urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        openModel(urls.first().toLocalFile());
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (const auto jobs = longJobsRunning(); !jobs.isEmpty()) {
        const bool quit =
            confirmQuit_
                ? confirmQuit_(jobs)
                : QMessageBox::question(
                      this, tr("Quit QuantLens?"),
                      tr("Still running: %1.\nQuit anyway and stop it?").arg(jobs.join(QStringLiteral(", "))),
                      QMessageBox::Yes | QMessageBox::No, QMessageBox::No) == QMessageBox::Yes;
        if (!quit) {
            event->ignore();
            return;
        }
    }
    for (auto* dialog : findChildren<ExportDialog*>())
        dialog->job()->cancel();
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    settings.setValue("specs/preview", inspector_->specEditor()->specText());
    settings.setValue("specs/compare", compare_->specs());
    settings.setValue("specs/candidates", allocation_->candidates());
    settings.setValue("specs/embedding_candidates", allocation_->embeddingCandidates());
    loader_->cancel();
    histogramJob_->cancel();
    stopAnalysis();
    event->accept();
}

}  // namespace quantlens::gui

#include "panels/AllocationPanel.hpp"

#include "files/FileDialogs.hpp"

#include "export/export_common.hpp"
#include "export/export_plan.hpp"
#include "quant/comparison.hpp"
#include "files/OutputCheck.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QRegularExpression>
#include <QSlider>
#include <QTableWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <algorithm>
#include <any>
#include <cmath>

#include "analysis/model_analysis.hpp"
#include "sensitivity/labelled_data.hpp"
#include "jobs/JobRunner.hpp"
#include "plots/PlotPicker.hpp"
#include "plots/PlotStyle.hpp"
#include "plots/TableExport.hpp"
#include "util/error.hpp"

namespace quantlens::widgets {

namespace {
QString defaultCandidates() {
    QStringList texts;
    for (const auto& text : quantlens::default_candidates())
        texts << QString::fromStdString(text);
    return texts.join(QStringLiteral(", "));
}
}  // namespace

namespace {

constexpr int kSliderSteps = 1000;

// What "Measure candidates" delivers: the weights-only analysis (with the importance matrix
// attached when it ran, which the ggml types and the imatrix damage use) and, for HAWQ Ω,
// measured Δloss or LRP, the engine's figures on the calibration data.
struct Measured {
    std::shared_ptr<const quantlens::AnalysisReport> report;
    std::optional<quantlens::AllocationEvidence> evidence;
    QString metric;
    const quantlens::ImportanceMatrix* importance = nullptr;
};

std::vector<quantlens::QuantSpec> parseSpecs(const QString& text) {
    std::vector<quantlens::QuantSpec> specs;
    for (const auto& part : text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts))
        specs.push_back(quantlens::QuantSpec::parse(part.toStdString()));
    return specs;
}

// An ECMAScript pattern matching exactly `name` (pins name one layer).
std::string exactPattern(const std::string& name) {
    std::string pattern;
    for (char c : name) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos)
            pattern += '\\';
        pattern += c;
    }
    return pattern;
}

}  // namespace

AllocationPanel::AllocationPanel(QWidget* parent)
    : QWidget(parent),
      candidates_(new QLineEdit(defaultCandidates())),
      embeddings_(new QLineEdit),
      metric_(new QComboBox),
      tieFused_(new QCheckBox(tr("Tie fused q/k/v, gate/up"))),
      exportFormat_(new QComboBox),
      analyse_(new QPushButton(tr("Measure candidates"))),
      slider_(new QSlider(Qt::Horizontal)),
      summary_(new QLabel),
      frontier_(new QCustomPlot),
      bars_(new QCustomPlot),
      barPicker_(new PlotPicker(bars_)),
      table_(new QTableWidget),
      load_(new QPushButton(tr("Load plan…"))),
      save_(new QPushButton(tr("Save plan…"))),
      job_(new JobRunner(this)),
      budget_(new QLineEdit),
      undo_(new QPushButton(tr("Undo"))),
      redo_(new QPushButton(tr("Redo"))) {
    embeddings_->setPlaceholderText(
        tr("same as every layer (e.g. f16 or int8:channel:sym to keep them wider)"));
    metric_->addItem(tr("squared error (mse)"), "mse");
    metric_->addItem(tr("squared error × kurtosis"), "kurtosis");
    metric_->addItem(tr("squared error × max/mean |w|"), "max_to_mean");
    metric_->addItem(tr("HAWQ Ω: Hessian trace × squared error (runs the model)"), "hawq");
    metric_->addItem(tr("measured Δloss, each layer alone (runs the model)"), "measured");
    metric_->addItem(tr("Fisher–Taylor estimate of Δloss (runs the model)"), "fisher");
    metric_->addItem(tr("LRP contribution × share of ‖W‖² lost (runs the model)"), "lrp");
    metric_->addItem(tr("importance-weighted error (llama.cpp importance matrix)"), "imatrix");
    metric_->setToolTip(
        tr("HAWQ Ω, measured Δloss, Fisher–Taylor and LRP run the model on the calibration data chosen in "
           "the Sensitivity view (or given with --calib); the importance-weighted error needs an importance "
           "matrix (File ▸ Load Importance Matrix)"));
    metric_->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    metric_->setMinimumContentsLength(22);
    candidates_->setMinimumWidth(160);
    embeddings_->setMinimumWidth(160);
    budget_->setPlaceholderText(tr("4.5bpw or 2.1GB"));
    budget_->setMaximumWidth(130);
    budget_->setToolTip(tr("Type a budget: bits per weight (4.5bpw) or the weights' size (800MB, 1.5GiB)"));
    undo_->setShortcut(QKeySequence::Undo);
    redo_->setShortcut(QKeySequence::Redo);
    undo_->setEnabled(false);
    redo_->setEnabled(false);
    slider_->setRange(0, kSliderSteps);
    slider_->setEnabled(false);
    save_->setEnabled(false);
    summary_->setWordWrap(true);
    summary_->setText(tr("Choose candidate specs and measure them; then move the budget."));

    exportFormat_->addItem(tr("any format"), QString());
    for (const auto& format : quantlens::export_formats())
        exportFormat_->addItem(QString::fromStdString(format), QString::fromStdString(format));
    exportFormat_->setToolTip(
        tr("Offer each layer only the candidates this export format accepts for it "
           "(the exporter's own checks), so the plan exports as it is"));
    auto* form = new QFormLayout;
    form->addRow(tr("Candidates"), candidates_);
    form->addRow(tr("For export as"), exportFormat_);
    form->addRow(tr("Embeddings"), embeddings_);
    auto* metricRow = new QHBoxLayout;
    metricRow->addWidget(metric_, 1);
    tieFused_->setToolTip(
        tr("One spec for the projections vLLM fuses into one matrix (needed for packed safetensors)"));
    metricRow->addWidget(tieFused_);
    form->addRow(tr("Damage"), metricRow);
    // The actions on a row of their own, so the view fits a narrow pane without scrolling sideways.
    auto* actions = new QHBoxLayout;
    actions->addWidget(analyse_);
    actions->addWidget(load_);
    actions->addWidget(save_);
    actions->addStretch(1);
    form->addRow(QString(), actions);
    auto* budgetRow = new QHBoxLayout;
    budgetRow->addWidget(slider_, 1);
    budgetRow->addWidget(budget_);
    budgetRow->addWidget(undo_);
    budgetRow->addWidget(redo_);
    form->addRow(tr("Budget"), budgetRow);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(summary_);
    frontier_->xAxis->setLabel(tr("bits per weight"));
    frontier_->yAxis->setLabel(tr("predicted damage"));
    bars_->xAxis->setLabel(tr("layer (model order)"));
    bars_->yAxis->setLabel(tr("bits per weight"));
    for (auto* plot : {frontier_, bars_}) {
        plot->setMinimumSize(280, 200);
        style_plot(plot, palette());
    }
    auto* grid = new QGridLayout;
    grid->addWidget(frontier_, 0, 0);
    grid->addWidget(bars_, 0, 1);
    layout->addLayout(grid, 1);
    table_->setColumnCount(5);
    table_->setHorizontalHeaderLabels(
        {tr("Layer"), tr("Kind"), tr("Parameters"), tr("Spec"), tr("Bits/weight")});
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    install_table_export(table_);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->setToolTip(tr("Double-click a layer to pin it to one of its candidates"));
    layout->addWidget(table_, 1);

    connect(analyse_, &QPushButton::clicked, this, &AllocationPanel::analyse);
    connect(metric_, &QComboBox::currentIndexChanged, this, [this] {
        // A model-based metric needs the engine's figures for these candidates, and the imatrix
        // damage an analysis made with the matrix now attached: measure them.
        const QString metric = metric_->currentData().toString();
        const bool staleImportance =
            metric == QLatin1String("imatrix") && model_ && reportImportance_ != model_->importance_matrix();
        if (report_ && ((needsEngine() && !evidenceServes(metric)) || staleImportance))
            analyse();
        else
            solve(Frontier::Recompute, sliderBits());
    });
    connect(budget_, &QLineEdit::returnPressed, this, [this] { setBudgetText(budget_->text()); });
    connect(undo_, &QPushButton::clicked, this, &AllocationPanel::undo);
    connect(redo_, &QPushButton::clicked, this, &AllocationPanel::redo);
    // A budget step is remembered when the slider comes to rest (not at every pixel of a drag).
    connect(slider_, &QSlider::sliderReleased, this, &AllocationPanel::remember);
    connect(tieFused_, &QCheckBox::toggled, this, [this] { solve(Frontier::Recompute, sliderBits()); });
    connect(exportFormat_, &QComboBox::currentIndexChanged, this,
            [this] { solve(Frontier::Recompute, sliderBits()); });
    connect(slider_, &QSlider::valueChanged, this, [this] {
        solve(Frontier::Keep, sliderBits());
        if (!slider_->isSliderDown())
            remember();
    });
    connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        if (!report_)
            return;
        const auto layer = table_->item(row, 0)->text();
        QMenu menu(this);
        for (const auto& spec : parseSpecs(candidates_->text())) {
            const auto text = QString::fromStdString(spec.to_string());
            menu.addAction(tr("Pin to %1").arg(text), this, [this, layer, text] { pin(layer, text); });
        }
        menu.addAction(tr("Unpin"), this, [this, layer] { pin(layer, QString()); });
        menu.exec(QCursor::pos());
    });
    connect(load_, &QPushButton::clicked, this, [this] {
        const auto path = openFileDialog(this, tr("Load plan"), tr("Plans (*.json);;All files (*)"));
        if (!path.isEmpty())
            loadPlan(path);
    });
    connect(save_, &QPushButton::clicked, this, [this] {
        const auto path =
            saveFileDialog(this, tr("Save plan"), QStringLiteral("plan.json"), tr("Plans (*.json)"));
        if (!path.isEmpty())
            savePlan(path);
    });
    connect(barPicker_, &PlotPicker::layerClicked, this, &AllocationPanel::layerClicked);
    connect(job_, &JobRunner::finished, this, [this](const std::any& result) {
        const auto measured = std::any_cast<std::shared_ptr<const Measured>>(result);
        const bool first = !report_;
        report_ = measured->report;
        evidence_ = measured->evidence;
        evidenceMetric_ = measured->metric;
        reportImportance_ = measured->importance;
        slider_->setEnabled(true);
        // Re-measuring keeps the pins and the budget; the first measurement starts mid-range.
        solve(Frontier::Recompute, first ? std::nullopt : std::optional<double>(sliderBits()));
        remember();
    });
    connect(job_, &JobRunner::failed, this, [this](const QString& message) {
        summary_->setText(
            QStringLiteral("<span style='color:#c0392b'>%1</span>").arg(message.toHtmlEscaped()));
        emit failed(message);
    });
}

AllocationPanel::~AllocationPanel() {
    job_->cancel();
}

void AllocationPanel::setModel(std::shared_ptr<const quantlens::Model> model) {
    if (model == model_)
        return;
    job_->cancel();
    model_ = std::move(model);
    report_.reset();
    plan_.reset();
    pins_.clear();
    evidence_.reset();
    importedEvidence_.reset();
    reportImportance_ = nullptr;
    refusalsKey_.clear();
    history_.clear();
    at_ = 0;
    showHistoryButtons();
    slider_->setEnabled(false);
    save_->setEnabled(false);
    table_->setRowCount(0);
    frontier_->clearGraphs();
    bars_->clearPlottables();
    frontier_->replot();
    bars_->replot();
    summary_->setText(tr("Choose candidate specs and measure them; then move the budget."));
}

void AllocationPanel::setCandidates(const QString& candidates, const QString& embeddingCandidates) {
    candidates_->setText(candidates);
    embeddings_->setText(embeddingCandidates);
}

void AllocationPanel::setTieFused(bool on) {
    tieFused_->setChecked(on);
}

QString AllocationPanel::candidates() const {
    return candidates_->text();
}
QString AllocationPanel::embeddingCandidates() const {
    return embeddings_->text();
}

quantlens::PlanRequest AllocationPanel::request(double bitsPerWeight) const {
    return request(quantlens::Budget{quantlens::Budget::Kind::BitsPerWeight, bitsPerWeight});
}

quantlens::PlanRequest AllocationPanel::request(const quantlens::Budget& budget, Filter filter) const {
    quantlens::PlanRequest request;
    request.candidates = parseSpecs(candidates_->text());
    if (!embeddings_->text().trimmed().isEmpty())
        request.kind_candidates[quantlens::LayerKind::Embedding] = parseSpecs(embeddings_->text());
    request.pins = pins_;
    request.metric = quantlens::parse_damage_metric(metric_->currentData().toString().toStdString());
    request.budget = budget;
    request.tie_fused = tieFused_->isChecked();
    if (filter == Filter::ExportFormat)
        request.refused = refusals(quantlens::specs_to_measure(request));
    if (const auto* evidence = servingEvidence(metric_->currentData().toString())) {
        request.hessian_traces = evidence->hessian_traces;
        request.measured_damage = evidence->measured_damage;
        request.fisher_damage = evidence->fisher_damage;
        request.lrp_contributions = evidence->lrp_contributions;
    }
    return request;
}

// What the chosen export format refuses, by layer and spec; the exporter's checks run again only
// when the format or the specs change (not at every slider step). Error when the format cannot
// be written from this model at all.
const quantlens::SpecRefusals& AllocationPanel::refusals(
    const std::vector<quantlens::QuantSpec>& specs) const {
    static const quantlens::SpecRefusals kNone;
    const auto format = exportFormat_->currentData().toString().toStdString();
    if (format.empty() || !model_)
        return kNone;
    // The attached importance matrix decides some GGUF refusals (types llama-quantize writes only with one).
    std::string key =
        format + "|" + std::to_string(reinterpret_cast<std::uintptr_t>(model_->importance_matrix()));
    for (const auto& spec : specs)
        key.append("|").append(spec.to_string());
    if (key != refusalsKey_) {
        if (const auto why = quantlens::export_source_refusal(*model_, format); !why.empty())
            throw quantlens::Error(model_->file().path(), "export as " + format, why);
        refused_ = quantlens::export_refusals(*model_, format, quantlens::quantizable_layers(*model_), specs);
        refusalsKey_ = key;
    }
    return refused_;
}

void AllocationPanel::setExportFormat(const QString& format) {
    exportFormat_->setCurrentIndex(std::max(0, exportFormat_->findData(format)));
}

// The engine's figures for `metric`: those measured here (one engine run gives both the measured
// Δloss and its Fisher–Taylor estimate), else an imported report's; null when neither has them.
const quantlens::AllocationEvidence* AllocationPanel::servingEvidence(const QString& metric) const {
    const auto family = [](const QString& m) {
        return m == QLatin1String("fisher") ? QStringLiteral("measured") : m;
    };
    if (evidence_ && family(evidenceMetric_) == family(metric))
        return &*evidence_;
    const bool modelBased = quantlens::is_model_based(quantlens::parse_damage_metric(metric.toStdString()));
    return modelBased && importedEvidence_ ? &*importedEvidence_ : nullptr;
}

bool AllocationPanel::evidenceServes(const QString& metric) const {
    return servingEvidence(metric) != nullptr;
}

void AllocationPanel::setImportedEvidence(quantlens::AllocationEvidence evidence) {
    importedEvidence_ = std::move(evidence);
    if (report_)
        solve(Frontier::Recompute, sliderBits());
}

bool AllocationPanel::needsEngine() const {
    return quantlens::is_model_based(
        quantlens::parse_damage_metric(metric_->currentData().toString().toStdString()));
}

void AllocationPanel::importanceChanged() {
    // The ggml types quantize with the matrix, and the imatrix damage is made of it: what was
    // measured without it (or with another) no longer holds.
    if (report_)
        analyse();
}

void AllocationPanel::setCalibration(const QString& path) {
    calibration_ = path;
}

void AllocationPanel::setMetric(const QString& name) {
    metric_->setCurrentIndex(metric_->findData(name));
}

void AllocationPanel::setBudgetText(const QString& text) {
    if (!model_ || !report_)
        return;
    try {
        const auto budget = quantlens::Budget::parse(text.trimmed().toStdString());
        const auto plan = quantlens::plan_allocation(*model_, *report_, request(budget)).plan;
        // The slider stands at the plan's bits per weight, so a size budget reads as one too.
        const double bits = budget.kind == quantlens::Budget::Kind::BitsPerWeight ? budget.value
                            : plan.summary ? plan.summary->bits_per_weight
                                           : sliderBits();
        // The slider's step at or below it: a later re-solve at the slider stays within the budget.
        const QSignalBlocker block(slider_);
        if (maxBits_ > minBits_)
            slider_->setValue(sliderStep(bits, Rounding::AtOrBelow));
        plan_ = plan;
        showPlan();
        remember();
    } catch (const quantlens::Error& error) {
        summary_->setText(QStringLiteral("<span style='color:#c0392b'>%1</span>")
                              .arg(QString::fromStdString(error.what()).toHtmlEscaped()));
    }
}

void AllocationPanel::remember() {
    if (restoring_ || !report_)
        return;
    const Step now{pins_, sliderBits()};
    if (!history_.empty() && history_[at_].bits == now.bits && history_[at_].pins == now.pins)
        return;
    history_.resize(history_.empty() ? 0 : at_ + 1);  // a new step drops the steps undone
    history_.push_back(now);
    at_ = history_.size() - 1;
    showHistoryButtons();
}

void AllocationPanel::undo() {
    if (canUndo())
        stepTo(at_ - 1);
}

void AllocationPanel::redo() {
    if (canRedo())
        stepTo(at_ + 1);
}

// Back (or forward) to a remembered step: its pins and its budget.
void AllocationPanel::stepTo(std::size_t step) {
    at_ = step;
    restoring_ = true;
    pins_ = history_[at_].pins;
    solve(Frontier::Recompute, history_[at_].bits);
    restoring_ = false;
    showHistoryButtons();
}

void AllocationPanel::showHistoryButtons() {
    undo_->setEnabled(canUndo());
    redo_->setEnabled(canRedo());
}

void AllocationPanel::analyse() {
    if (!model_)
        return;
    quantlens::AnalysisOptions options;
    try {
        // The pins' specs too (pins are kept); the export format filters the plan, not what is measured.
        options.specs = quantlens::specs_to_measure(
            request(quantlens::Budget{quantlens::Budget::Kind::BitsPerWeight, 0}, Filter::None));
    } catch (const quantlens::Error& error) {
        job_->refuse(QString::fromStdString(error.what()));
        return;
    }
    const QString metric = metric_->currentData().toString();
    // An imported report's figures serve the model-based metrics: only the weights are measured.
    const bool fromReport = needsEngine() && importedEvidence_;
    if (needsEngine() && calibration_.isEmpty() && !fromReport) {
        summary_->setText(
            tr("%1 runs the model on calibration data: choose it in the Sensitivity view (Model "
               "metrics) or start QuantLens with --calib FILE.")
                .arg(metric_->currentText()));
        return;
    }
    if (metric == QLatin1String("imatrix") && !model_->importance_matrix()) {
        summary_->setText(
            tr("The importance-weighted error needs a llama.cpp importance matrix for this "
               "model: File ▸ Load Importance Matrix…"));
        return;
    }
    options.qsur = false;  // the damage metrics need the statistics and each spec's error, not QSUR
    auto model = model_;
    const std::string calibration = calibration_.toStdString();
    job_->start(tr("Measuring candidates"),
                [model, options, metric, calibration, fromReport](
                    const quantlens::Progress& progress, const quantlens::CancelToken& cancel) -> std::any {
                    auto measured = std::make_shared<Measured>();
                    measured->report = std::make_shared<quantlens::AnalysisReport>(
                        quantlens::analyze_model(*model, options, progress, &cancel));
                    measured->metric = metric;
                    measured->importance = model->importance_matrix();
                    if (fromReport)  // the imported report's figures serve
                        return std::shared_ptr<const Measured>(std::move(measured));
                    if (metric == QLatin1String("hawq"))
                        measured->evidence = quantlens::hessian_evidence(
                            *model, quantlens::load_model_data(*model, calibration), progress, &cancel);
                    else if (metric == QLatin1String("measured") || metric == QLatin1String("fisher"))
                        measured->evidence = quantlens::measured_evidence(
                            *model, quantlens::load_model_data(*model, calibration), options.specs, progress,
                            &cancel);
                    else if (metric == QLatin1String("lrp"))
                        measured->evidence = quantlens::lrp_evidence(
                            *model, quantlens::load_model_data(*model, calibration), {}, &cancel);
                    return std::shared_ptr<const Measured>(std::move(measured));
                });
}

void AllocationPanel::setBudget(double bitsPerWeight) {
    if (maxBits_ <= minBits_)
        return;
    slider_->setValue(sliderStep(bitsPerWeight, Rounding::Nearest));
}

void AllocationPanel::pin(const QString& layer, const QString& spec) {
    const auto pattern = exactPattern(layer.toStdString());
    std::erase_if(pins_, [&](const auto& entry) { return entry.first == pattern; });
    if (!spec.isEmpty())
        pins_.insert(pins_.begin(), {pattern, quantlens::QuantSpec::parse(spec.toStdString())});
    solve(Frontier::Recompute, sliderBits());  // new frontier, same budget
    remember();
}

// The slider position for a budget in the slider's range (needs maxBits_ > minBits_): the nearest
// step, or the step at or below it when a re-solve there must stay within that budget.
int AllocationPanel::sliderStep(double bitsPerWeight, Rounding rounding) const {
    const double steps =
        std::clamp((bitsPerWeight - minBits_) / (maxBits_ - minBits_), 0.0, 1.0) * kSliderSteps;
    return static_cast<int>(rounding == Rounding::AtOrBelow ? std::floor(steps) : std::round(steps));
}

double AllocationPanel::sliderBits() const {
    return minBits_ + (maxBits_ - minBits_) * slider_->value() / kSliderSteps;
}

// Frontier::Recompute first recomputes the frontier and the slider's range (candidates, pins or
// the metric changed), then keeps `bitsPerWeight` (clamped to the new range) or, without one,
// takes the middle of the range.
void AllocationPanel::solve(Frontier frontier, std::optional<double> bitsPerWeight) {
    if (!model_ || !report_)
        return;
    try {
        if (frontier == Frontier::Recompute) {
            const auto widest = quantlens::plan_allocation(*model_, *report_, request(1e9));
            parameters_ = widest.plan.summary ? widest.plan.summary->parameters : 0;
            const double n = std::max<double>(1.0, static_cast<double>(parameters_));
            minBits_ = static_cast<double>(widest.solver.cheapest_bits()) / n;
            maxBits_ = static_cast<double>(widest.solver.dearest_bits()) / n;
            frontierPoints_ = widest.solver.frontier();
            const double keep = bitsPerWeight.value_or((minBits_ + maxBits_) / 2);
            const QSignalBlocker block(slider_);
            slider_->setValue(maxBits_ > minBits_ ? sliderStep(keep, Rounding::Nearest) : kSliderSteps);
            bitsPerWeight = sliderBits();
        }
        // The slider's cheapest end is exactly the cheapest plan (rounding could land below it).
        const double budget = std::max(*bitsPerWeight, minBits_) + 1e-9;
        plan_ = quantlens::plan_allocation(*model_, *report_, request(budget)).plan;
        showPlan();
    } catch (const quantlens::Error& error) {
        summary_->setText(QStringLiteral("<span style='color:#c0392b'>%1</span>")
                              .arg(QString::fromStdString(error.what()).toHtmlEscaped()));
    }
}

void AllocationPanel::showPlan() {
    const auto& plan = *plan_;
    save_->setEnabled(true);
    table_->setRowCount(static_cast<int>(plan.layers.size()));
    QVector<double> keys, bits;
    const QLocale locale;
    for (std::size_t i = 0; i < plan.layers.size(); ++i) {
        const auto& [name, spec] = plan.layers[i];
        const auto& layer = model_->layer(name);
        double layerBits = 0;
        std::uint64_t parameters = 0;
        if (report_)
            for (const auto& analysed : report_->layers) {
                if (analysed.layer != name)
                    continue;
                parameters = analysed.parameters;
                for (std::size_t k = 0; k < report_->specs.size(); ++k)
                    if (report_->specs[k] == spec && analysed.quantization[k].metrics)
                        layerBits = analysed.quantization[k].metrics->bits_per_weight;
            }
        bool pinned = false;
        for (const auto& [pattern, pinnedSpec] : pins_)
            pinned = pinned || pattern == exactPattern(name);
        const QStringList cells = {
            QString::fromStdString(name), QString::fromUtf8(quantlens::layer_kind_name(layer.kind).data()),
            parameters ? locale.toString(static_cast<qulonglong>(parameters)) : QStringLiteral("–"),
            QString::fromStdString(spec.to_string()) + (pinned ? tr("  (pinned)") : QString()),
            layerBits > 0 ? QString::number(layerBits, 'f', 3) : QStringLiteral("–")};
        for (int c = 0; c < cells.size(); ++c)
            table_->setItem(static_cast<int>(i), c, new QTableWidgetItem(cells[c]));
        keys.push_back(static_cast<double>(i));
        bits.push_back(layerBits);
    }
    table_->resizeColumnsToContents();

    bars_->clearPlottables();
    std::vector<QString> names;
    for (const auto& [name, spec] : plan.layers)
        names.push_back(QString::fromStdString(name));
    barPicker_->setBars(std::move(names), {bits.begin(), bits.end()});
    auto* bar = new QCPBars(bars_->xAxis, bars_->yAxis);
    bar->setData(keys, bits);
    bar->setPen(Qt::NoPen);
    bar->setBrush(palette().color(QPalette::Highlight));
    bars_->rescaleAxes();
    bars_->yAxis->setRangeLower(0);
    bars_->yAxis->setRangeUpper(bars_->yAxis->range().upper * 1.1);
    bars_->xAxis->setRange(-1, static_cast<double>(keys.size()));
    bars_->replot();

    frontier_->clearGraphs();
    const double n = std::max<double>(1.0, static_cast<double>(parameters_));
    auto* line = frontier_->addGraph();
    line->setName(tr("Pareto frontier"));
    line->setPen(QPen(palette().color(QPalette::Highlight), 1.5));
    line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    for (const auto& point : frontierPoints_)
        line->addData(static_cast<double>(point.cost_bits) / n, point.damage);
    auto* current = frontier_->addGraph();
    current->setName(tr("this plan"));
    current->setLineStyle(QCPGraph::lsNone);
    current->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(192, 57, 43), 11));
    if (plan.summary)
        current->addData(plan.summary->bits_per_weight, plan.summary->predicted_damage);
    frontier_->legend->setVisible(true);
    frontier_->rescaleAxes();
    frontier_->xAxis->scaleRange(1.1);
    frontier_->yAxis->scaleRange(1.15);
    frontier_->replot();

    if (plan.summary)
        summary_->setText(
            tr("<b>%1 bits/weight</b> over %2 parameters, %3 in all; predicted damage %4 (%5).<br>Budget "
               "range %6 – %7 bits/weight; double-click a layer below to pin it.")
                .arg(plan.summary->bits_per_weight, 0, 'f', 3)
                .arg(locale.toString(static_cast<qulonglong>(plan.summary->parameters)))
                .arg(locale.formattedDataSize(static_cast<qint64>(plan.summary->size_bytes)))
                .arg(plan.summary->predicted_damage, 0, 'g', 4)
                .arg(QString::fromStdString(plan.metric))
                .arg(minBits_, 0, 'f', 3)
                .arg(maxBits_, 0, 'f', 3));
    else
        summary_->setText(tr("Plan loaded: %1 layers named, default %2")
                              .arg(plan.layers.size())
                              .arg(plan.default_spec ? QString::fromStdString(plan.default_spec->to_string())
                                                     : tr("none")));
    emit planChanged();
}

void AllocationPanel::loadPlan(const QString& path) {
    if (!model_)
        return;
    try {
        auto plan = quantlens::load_plan(path.toStdString());
        const auto assignments =
            quantlens::resolve_plan(plan, *model_, path.toStdString());  // refuses another model's plan
        quantlens::QuantPlan shown = plan;
        shown.layers.clear();
        shown.patterns.clear();
        for (const auto& [layer, spec] : assignments)
            shown.layers.emplace_back(layer->name, spec);  // every layer it resolves to
        shown.default_spec.reset();
        plan_ = shown;
        showPlan();
    } catch (const quantlens::Error& error) {
        emit failed(QString::fromStdString(error.what()));
    }
}

void AllocationPanel::savePlan(const QString& path) {
    if (!plan_)
        return;
    // The file dialog has asked before replacing: an earlier plan (a QuantLens file) may go.
    const QStringList inputs = {model_ ? QString::fromStdString(quantlens::model_input(model_->file()))
                                       : QString()};
    if (const auto refusal = outputRefusal(path, inputs, true); !refusal.isEmpty()) {
        emit failed(refusal);
        return;
    }
    try {
        quantlens::save_plan(*plan_, path.toStdString());
    } catch (const quantlens::Error& error) {
        emit failed(QString::fromStdString(error.what()));
    }
}

}  // namespace quantlens::widgets

#include "panels/ComparePanel.hpp"

#include <QCheckBox>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <any>
#include <cmath>

#include "jobs/JobRunner.hpp"
#include "model/inspection.hpp"
#include "quant/stored_spec.hpp"
#include "tensor/stored_quantization.hpp"
#include "plots/HistogramPlot.hpp"
#include "plots/PlotStyle.hpp"
#include "plots/TableExport.hpp"
#include "util/error.hpp"

namespace quantlens::widgets {

namespace {

const QColor kSpecColors[] = {QColor(41, 128, 185), QColor(211, 84, 0), QColor(39, 174, 96),
                              QColor(142, 68, 173)};

struct Column {
    QString title;
    bool higher_is_better;
    bool ranked = true;  // the best value is highlighted
};
const std::vector<Column> kLayerColumns = {
    {QObject::tr("bits/weight"), false}, {QObject::tr("MSE"), false},   {QObject::tr("SQNR dB"), true},
    {QObject::tr("max |error|"), false}, {QObject::tr("cosine"), true}, {QObject::tr("size"), false}};
// Whole-model figures cover the layers each spec could take: "model layers" says how many, and
// only specs that took every layer compete for best (a partial total is of a smaller model).
const std::vector<Column> kModelColumns = {{QObject::tr("model SQNR dB"), true},
                                           {QObject::tr("model bits/weight"), false},
                                           {QObject::tr("model size"), false},
                                           {QObject::tr("model layers"), true, false}};

}  // namespace

struct ComparePanel::Result {
    std::vector<quantlens::QuantSpec> specs;
    quantlens::SpecsOnLayer layer;
    std::optional<quantlens::Comparison> whole;
    bool layer_only = false;  // the histograms' range changed: the whole-model figures on screen stay
};

ComparePanel::ComparePanel(QWidget* parent)
    : QWidget(parent),
      wholeModel_(new QCheckBox(tr("Whole model too"))),
      run_(new QPushButton(tr("Compare"))),
      stored_(new QPushButton(tr("Stored format"))),
      storedInfo_(new QLabel),
      table_(new QTableWidget),
      histogram_(new HistogramPlot),
      job_(new JobRunner(this)) {
    bits_ = make_labelled_plot(this, tr("bits per weight"), tr("SQNR (dB)"));
    model_plot_ = make_labelled_plot(this, tr("whole-model weights (MiB)"), tr("whole-model SQNR (dB)"));
    auto* layout = new QVBoxLayout(this);
    auto* row = new QHBoxLayout;
    const QStringList defaults = {QStringLiteral("int4:g128:asym"), QStringLiteral("nf4:g64"),
                                  QStringLiteral("q4_0"), QString()};
    for (int i = 0; i < 4; ++i) {
        auto* edit = new QLineEdit(defaults[i]);
        edit->setPlaceholderText(tr("spec %1 (optional)").arg(i + 1));
        edit->setStyleSheet(
            QStringLiteral("QLineEdit { border-left: 4px solid %1; }").arg(kSpecColors[i].name()));
        connect(edit, &QLineEdit::returnPressed, this, [this] { compare(); });
        specs_.push_back(edit);
        row->addWidget(edit, 1);
    }
    row->addWidget(stored_);
    row->addWidget(wholeModel_);
    row->addWidget(run_);
    layout->addLayout(row);
    storedInfo_->setWordWrap(true);
    storedInfo_->hide();
    layout->addWidget(storedInfo_);
    stored_->setEnabled(false);
    stored_->setToolTip(
        tr("For a weight the file stores quantized: its format as a spec, beside the others"));
    connect(stored_, &QPushButton::clicked, this, [this] {
        specs_.back()->setText(storedSpec_);
        compare();
    });
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    install_table_export(table_);
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
    table_->setMaximumHeight(table_->fontMetrics().height() * 9);
    layout->addWidget(table_);
    auto* grid = new QGridLayout;
    grid->addWidget(histogram_, 0, 0, 1, 2);
    grid->addWidget(bits_, 1, 0);
    grid->addWidget(model_plot_, 1, 1);
    layout->addLayout(grid, 1);
    connect(run_, &QPushButton::clicked, this, [this] { compare(); });
    connect(wholeModel_, &QCheckBox::toggled, this, [this] { compare(); });
    connect(job_, &JobRunner::finished, this,
            [this](const std::any& result) { show(*std::any_cast<std::shared_ptr<Result>>(result)); });
    connect(job_, &JobRunner::failed, this, [this](const QString& message) {
        table_->clear();
        table_->setRowCount(1);
        table_->setColumnCount(1);
        table_->setItem(0, 0, new QTableWidgetItem(message));
        table_->horizontalHeader()->setStretchLastSection(true);
    });
    // The central 99.9%: the layer's comparison again with those histograms (it sorts a copy of
    // the layer per spec), kept while the range stays central; back to full needs no new run.
    histogram_->offerCentralRange(true);
    connect(histogram_, &HistogramPlot::xRangeChanged, this, [this](HistogramPlot::XRange range) {
        if (!layer_)
            return;
        if (range == HistogramPlot::XRange::Central && !layer_->previews.front().central_weights)
            compare(Scope::Layer);
        else
            showHistogram();
    });
    histogram_->clear(tr("Select a layer"));
}

ComparePanel::~ComparePanel() {
    job_->cancel();
}

void ComparePanel::setLayer(std::shared_ptr<const quantlens::Model> model, const QString& name) {
    if (model != model_)
        clearResults();  // nothing of the previous model stays on screen
    model_ = std::move(model);
    name_ = name;
    stale_ = true;
    showStoredFormat();
    if (isVisible())
        compare();
}

// What the file stores for the layer, and the spec it is, when it stores it quantized.
void ComparePanel::showStoredFormat() {
    storedSpec_.clear();
    stored_->setEnabled(false);
    storedInfo_->hide();
    if (!model_ || name_.isEmpty())
        return;
    {
        const auto& layer = model_->layer(name_.toStdString());
        const auto& info = model_->file().tensor(layer.weight);
        if (!info.quantization)
            return;
        std::string why;
        const auto spec = quantlens::spec_of_stored(*info.quantization, layer.orientation, &why);
        const auto stored = QString::fromStdString(quantlens::describe(*info.quantization));
        if (spec) {
            storedSpec_ = QString::fromStdString(spec->to_string());
            stored_->setEnabled(true);
            storedInfo_->setText(
                tr("Stored in the file: %1. As a spec: <b>%2</b>; its error here is how far "
                   "QuantLens's quantizer is from the file's on the same (dequantized) weights.")
                    .arg(stored.toHtmlEscaped(), storedSpec_));
        } else {
            storedInfo_->setText(
                tr("Stored in the file: %1. No spec describes it: %2.")
                    .arg(stored.toHtmlEscaped(), QString::fromStdString(why).toHtmlEscaped()));
        }
        storedInfo_->show();
    }
}

void ComparePanel::clearResults() {
    job_->cancel();
    layer_.reset();
    whole_.reset();
    histogram_->clear(tr("Comparing…"));
    bits_->clearGraphs();
    bits_->replot();
    model_plot_->clearGraphs();
    model_plot_->replot();
    table_->clear();
    table_->setRowCount(0);
    table_->setColumnCount(0);
}

void ComparePanel::setSpecs(const QStringList& specs) {
    for (std::size_t i = 0; i < specs_.size(); ++i)
        specs_[i]->setText(i < static_cast<std::size_t>(specs.size()) ? specs[static_cast<int>(i)]
                                                                      : QString());
}

QStringList ComparePanel::specs() const {
    QStringList texts;
    for (auto* edit : specs_)
        texts << edit->text();
    return texts;
}

void ComparePanel::setWholeModel(bool on) {
    wholeModel_->setChecked(on);
}

void ComparePanel::showEvent(QShowEvent* event) {
    QWidget::showEvent(event);
    if (stale_)
        compare();
}

void ComparePanel::compare(Scope scope) {
    if (!model_ || name_.isEmpty())
        return;
    stale_ = false;
    std::vector<quantlens::QuantSpec> specs;
    for (auto* edit : specs_) {
        if (edit->text().trimmed().isEmpty())
            continue;
        try {
            specs.push_back(quantlens::QuantSpec::parse(edit->text().trimmed().toStdString()));
            edit->setToolTip(QString());
        } catch (const quantlens::Error& error) {
            edit->setToolTip(QString::fromStdString(error.reason()));
            job_->refuse(QString::fromStdString(error.what()));
            return;
        }
    }
    if (specs.empty())
        return;
    auto model = model_;
    const std::string layer = name_.toStdString();
    const bool whole = scope == Scope::Everything && wholeModel_->isChecked();
    const bool central = histogram_->xRange() == HistogramPlot::XRange::Central;
    job_->start(tr("Comparing"),
                [model, layer, specs, whole, central, scope](
                    const quantlens::Progress& progress, const quantlens::CancelToken& cancel) -> std::any {
                    auto result = std::make_shared<Result>();
                    result->specs = specs;
                    result->layer_only = scope == Scope::Layer;
                    const auto weights = model->read_weights(model->layer(layer));
                    quantlens::PreviewOptions options;
                    options.cancel = &cancel;
                    options.central_range = central;
                    options.importance = model->importance(model->layer(layer));
                    result->layer = quantlens::compare_on_layer(
                        quantlens::as_matrix(weights.values(), weights.shape), specs, options, progress);
                    if (whole)
                        result->whole = quantlens::compare_specs(
                            *model, quantlens::quantizable_layers(*model), specs, progress, &cancel);
                    return result;
                });
}

// The weights' bars and each spec's dequantized distribution over them, in the chosen x range.
void ComparePanel::showHistogram() {
    const auto& previews = layer_->previews;
    const auto& first = previews.front();
    const QString title = tr("%1: dequantized distributions").arg(name_);
    if (first.central_weights)
        histogram_->setHistograms(first.weights, *first.central_weights, title);
    else
        histogram_->setHistogram(first.weights, title);
    const bool central = histogram_->xRange() == HistogramPlot::XRange::Central && first.central_weights;
    histogram_->clearOverlays();
    for (std::size_t i = 0; i < previews.size(); ++i) {
        if (!previews[i].error.empty())  // a spec that does not apply is n/a in the table, not drawn
            continue;
        const auto& dequantized = central
                                      ? (previews[i].central_dequantized ? *previews[i].central_dequantized
                                                                         : previews[i].dequantized)
                                      : previews[i].dequantized;
        histogram_->addOverlay(dequantized, kSpecColors[i],
                               QString::fromStdString(previews[i].spec.to_string()));
    }
}

void ComparePanel::show(const Result& result) {
    layer_ = result.layer;
    if (!result.layer_only)
        whole_ = result.whole;
    const auto& previews = layer_->previews;
    showHistogram();

    bits_->clearGraphs();
    for (std::size_t i = 0; i < layer_->curves.size(); ++i) {
        auto* graph = bits_->addGraph();
        graph->setName(QString::fromStdString(previews[i].spec.to_string()));
        graph->setPen(QPen(kSpecColors[i], 1.5));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kSpecColors[i], 5));
        for (const auto& point : layer_->curves[i])
            graph->addData(point.bits_per_weight, std::isfinite(point.sqnr_db) ? point.sqnr_db : 0);
        auto* chosen = bits_->addGraph();  // the spec itself, larger
        chosen->setLineStyle(QCPGraph::lsNone);
        chosen->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kSpecColors[i], 10));
        if (previews[i].error.empty())
            chosen->addData(previews[i].metrics.bits_per_weight, previews[i].metrics.sqnr_db);
        chosen->removeFromLegend();
    }
    bits_->rescaleAxes();
    bits_->xAxis->scaleRange(1.1);
    bits_->yAxis->scaleRange(1.1);
    bits_->replot();

    model_plot_->clearGraphs();
    if (whole_) {
        for (std::size_t i = 0; i < whole_->totals.size(); ++i) {
            auto* graph = model_plot_->addGraph();
            graph->setName(QString::fromStdString(whole_->specs[i].to_string()));
            graph->setLineStyle(QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kSpecColors[i], 10));
            if (whole_->totals[i].parameters)  // a spec no layer could take has no point
                graph->addData(static_cast<double>(whole_->totals[i].size_bytes) / 1048576.0,
                               whole_->totals[i].sqnr_db);
        }
        model_plot_->rescaleAxes();
        model_plot_->xAxis->scaleRange(1.3);
        model_plot_->yAxis->scaleRange(1.3);
    }
    model_plot_->replot();
    fillTable();
    emit compared();
}

void ComparePanel::fillTable() {
    const auto& previews = layer_->previews;
    auto columns = kLayerColumns;
    if (whole_)
        columns.insert(columns.end(), kModelColumns.begin(), kModelColumns.end());
    table_->clear();
    table_->setRowCount(static_cast<int>(previews.size()));
    table_->setColumnCount(static_cast<int>(columns.size()));
    QStringList headers, rows;
    for (const auto& column : columns)
        headers << column.title;
    table_->setHorizontalHeaderLabels(headers);
    const QLocale locale;
    std::vector<std::vector<double>> values(previews.size());
    for (std::size_t s = 0; s < previews.size(); ++s) {
        const auto& m = previews[s].metrics;
        rows << QString::fromStdString(previews[s].spec.to_string());
        values[s] = {m.bits_per_weight, m.mse,    m.sqnr_db,
                     m.max_abs_error,   m.cosine, static_cast<double>(m.size_bytes)};
        if (!previews[s].error.empty())  // n/a on this layer: shown in place, with the reason
            std::fill(values[s].begin(), values[s].end(), std::nan(""));
        if (whole_) {
            const auto& t = whole_->totals[s];
            values[s].insert(values[s].end(),
                             {t.sqnr_db, t.bits_per_weight, static_cast<double>(t.size_bytes),
                              static_cast<double>(t.layers)});
        }
    }
    table_->setVerticalHeaderLabels(rows);
    for (std::size_t c = 0; c < columns.size(); ++c) {
        const bool model_column = c >= kLayerColumns.size();
        std::size_t best = previews.size();  // none, until a value that is a number
        for (std::size_t s = 0; s < previews.size(); ++s)
            if (columns[c].ranked && !std::isnan(values[s][c]) &&
                (!model_column || whole_->totals[s].complete()) &&
                (best == previews.size() || (columns[c].higher_is_better ? values[s][c] > values[best][c]
                                                                         : values[s][c] < values[best][c])))
                best = s;
        for (std::size_t s = 0; s < previews.size(); ++s) {
            const double v = values[s][c];
            const bool bytes = columns[c].title.contains(tr("size"));
            QString text = std::isnan(v) ? tr("n/a")
                           : bytes       ? locale.formattedDataSize(static_cast<qint64>(v))
                                         : QString::number(v, 'g', 5);
            if (model_column && whole_) {
                const auto& t = whole_->totals[s];
                if (!columns[c].ranked)
                    text = tr("%1 of %2").arg(t.layers).arg(t.layers + t.skipped_layers);
                else if (!t.complete() && !std::isnan(v))
                    text += QStringLiteral(" ~");
            }
            auto* item = new QTableWidgetItem(text);
            if (!model_column && !previews[s].error.empty())
                item->setToolTip(QString::fromStdString(previews[s].error));
            if (model_column && whole_ && !whole_->totals[s].complete())
                item->setToolTip(tr("covers %1 of the %2 layers (the others are n/a for this spec): not "
                                    "comparable with the complete totals")
                                     .arg(whole_->totals[s].layers)
                                     .arg(whole_->totals[s].layers + whole_->totals[s].skipped_layers));
            item->setData(Qt::UserRole, v);
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (s == best && previews.size() > 1) {
                QFont bold = item->font();
                bold.setBold(true);
                item->setFont(bold);
                item->setBackground(QColor(39, 174, 96, 70));
                item->setToolTip(tr("best of the %1 specs").arg(previews.size()));
            }
            table_->setItem(static_cast<int>(s), static_cast<int>(c), item);
        }
    }
    table_->resizeColumnsToContents();
}

QString ComparePanel::tableCsv() const {
    return table_csv(table_);
}

}  // namespace quantlens::widgets

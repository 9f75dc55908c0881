#include "panels/DiffPanel.hpp"

#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <any>
#include <cmath>
#include <map>

#include "files/FileDialogs.hpp"
#include "jobs/JobRunner.hpp"
#include "plots/HistogramPlot.hpp"
#include "plots/PlotPicker.hpp"
#include "plots/PlotStyle.hpp"
#include "stats/histogram.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"

namespace quantlens::widgets {

namespace {

const QColor kOtherColor(211, 84, 0), kPlanColor(39, 174, 96);
constexpr int kSortRole = Qt::UserRole;         // the number behind a cell (NaN: none)
constexpr int kDiffRowRole = Qt::UserRole + 1;  // the row's index in ModelDiff::layers
constexpr std::size_t kBins = 120;

// A cell showing `text` that sorts by `value` (NaN sorts as the lowest).
QStandardItem* cell(const QString& text, double value = std::nan("")) {
    auto* item = new QStandardItem(text);
    item->setData(std::isnan(value) ? -std::numeric_limits<double>::infinity() : value, kSortRole);
    item->setEditable(false);
    return item;
}
QStandardItem* number(double value, char format = 'g', int precision = 5) {
    if (std::isnan(value))
        return cell(QObject::tr("n/a"));
    auto* item =
        cell(std::isinf(value) ? QObject::tr("identical") : QString::number(value, format, precision), value);
    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return item;
}

QString shapeText(const std::vector<std::int64_t>& shape) {
    QStringList dims;
    for (auto d : shape)
        dims << QString::number(d);
    return dims.join(QStringLiteral(" × "));
}

// Every part's weights one after another: a histogram does not depend on the order of values,
// so a fused layer's parts and llama.cpp's q/k row order need no rearranging here.
std::vector<float> valuesOf(const quantlens::Model& model, const std::vector<std::string>& parts,
                            const quantlens::CancelToken& cancel) {
    std::vector<float> values;
    for (const auto& name : parts) {
        cancel.throw_if_cancelled();
        const auto weights = model.read_weights(model.layer(name));
        const auto span = weights.values();
        values.insert(values.end(), span.begin(), span.end());
    }
    return values;
}

struct PairHistograms {
    int row = 0;
    quantlens::Histogram base, other;
};

}  // namespace

struct DiffPanel::Opened {
    std::shared_ptr<const quantlens::Model> other;
    quantlens::ModelDiff diff;
};

DiffPanel::DiffPanel(QWidget* parent)
    : QWidget(parent),
      title_(new QLabel),
      summary_(new QLabel),
      openButton_(new QPushButton(tr("Compare With…"))),
      planButton_(new QPushButton(tr("Plan at Same Size"))),
      rows_(new QStandardItemModel(this)),
      proxy_(new QSortFilterProxyModel(this)),
      table_(new QTableView),
      histogram_(new HistogramPlot),
      job_(new JobRunner(this)),
      histogramJob_(new JobRunner(this)) {
    depth_ = make_labelled_plot(this, tr("layer (base's order)"), tr("SQNR (dB)"));
    bits_ = make_labelled_plot(this, tr("bits per weight"), tr("SQNR (dB)"));
    for (auto* plot : {depth_, bits_})
        plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    auto* layout = new QVBoxLayout(this);
    auto* row = new QHBoxLayout;
    title_->setWordWrap(true);
    title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    row->addWidget(title_, 1);
    auto* openMenu = new QMenu(openButton_);
    openMenu->addAction(tr("Model File…"), this, [this] {
        const auto path = openFileDialog(this, tr("Compare with another version of the model"),
                                         tr("Model files (*.safetensors *.json *.gguf *.h5 *.hdf5 *.keras "
                                            "*.npz *.npy *.onnx);;All files (*)"));
        if (!path.isEmpty())
            compareWith(path);
    });
    openMenu->addAction(tr("Hugging Face Folder…"), this, [this] {
        const auto path = openFolderDialog(this, tr("Compare with a quantized checkpoint's folder"));
        if (!path.isEmpty())
            compareWith(path);
    });
    openButton_->setMenu(openMenu);
    openButton_->setToolTip(
        tr("Another version of this model: its quantized export, a GPTQ, AWQ, "
           "bitsandbytes or compressed-tensors checkpoint, a GGUF, a fine-tune"));
    planButton_->setToolTip(
        tr("Plan the layers the other stores quantized from this model's weights, at "
           "exactly the other's bits per weight, and compare each layer (docs/diff.md)"));
    planButton_->setEnabled(false);
    row->addWidget(openButton_);
    row->addWidget(planButton_);
    layout->addLayout(row);
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(summary_);

    proxy_->setSourceModel(rows_);
    proxy_->setSortRole(kSortRole);
    table_->setModel(proxy_);
    table_->horizontalHeader()->setSortIndicator(Layer, Qt::AscendingOrder);  // the base's order
    table_->setSortingEnabled(true);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
    table_->setMinimumHeight(table_->fontMetrics().height() * 12);
    layout->addWidget(table_, 2);
    auto* grid = new QGridLayout;
    grid->addWidget(depth_, 0, 0);
    grid->addWidget(bits_, 0, 1);
    grid->addWidget(histogram_, 1, 0, 1, 2);
    layout->addLayout(grid, 3);

    for (auto* plot : {depth_, bits_}) {
        auto* picker = new PlotPicker(plot);
        picker->setObjectName(QStringLiteral("picker"));
        connect(picker, &PlotPicker::layerClicked, this, [this](const QString& layer) {
            for (int r = 0; r < proxy_->rowCount(); ++r)
                if (proxy_->index(r, Layer).data().toString() == layer)
                    table_->selectRow(r);
        });
    }
    connect(planButton_, &QPushButton::clicked, this, &DiffPanel::planAtSameSize);
    connect(table_->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] {
        const auto selected = table_->selectionModel()->selectedRows();
        if (selected.isEmpty())
            return;
        const auto index = selected.first();
        showPair(proxy_->data(proxy_->index(index.row(), Layer), kDiffRowRole).toInt());
        emit layerClicked(proxy_->index(index.row(), Layer).data().toString());
    });
    connect(job_, &JobRunner::finished, this, [this](const std::any& result) {
        if (const auto* opened = std::any_cast<std::shared_ptr<Opened>>(&result)) {
            other_ = (*opened)->other;
            diff_ = std::move((*opened)->diff);
            plan_.reset();
            showDiff();
        } else {
            plan_ = *std::any_cast<std::shared_ptr<quantlens::PlanAtSize>>(result);
            showPlan();
        }
    });
    connect(job_, &JobRunner::failed, this, [this](const QString& message) {
        summary_->setText(message.toHtmlEscaped());  // the window's status bar says it too
        planButton_->setEnabled(diff_ && other_ && !plan_);
    });
    connect(histogramJob_, &JobRunner::finished, this, [this](const std::any& result) {
        const auto pair = std::any_cast<std::shared_ptr<PairHistograms>>(result);
        const auto& row = diff_->layers[static_cast<std::size_t>(pair->row)];
        histogram_->setHistogram(pair->base, tr("%1: base and other").arg(QString::fromStdString(row.layer)));
        histogram_->clearOverlays();
        histogram_->addOverlay(pair->other, kOtherColor,
                               tr("other (%1)").arg(QString::fromStdString(row.stored)));
        emit histogramShown();
    });
    connect(histogramJob_, &JobRunner::failed, this,
            [this](const QString& message) { histogram_->clear(message); });
    clearResults(tr("Open a model, then compare it with another version: Compare With…"));
}

DiffPanel::~DiffPanel() {
    job_->cancel();
    histogramJob_->cancel();
}

void DiffPanel::setModel(std::shared_ptr<const quantlens::Model> model) {
    base_ = std::move(model);
    other_.reset();
    otherPath_.clear();
    clearResults(tr("Compare this model with another version of it: Compare With…"));
}

void DiffPanel::clearResults(const QString& message) {
    job_->cancel();
    histogramJob_->cancel();
    diff_.reset();
    plan_.reset();
    rows_->clear();
    depth_->clearGraphs();
    depth_->replot();
    bits_->clearGraphs();
    bits_->replot();
    histogram_->clear(tr("Select a row"));
    planButton_->setEnabled(false);
    openButton_->setEnabled(base_ != nullptr);
    title_->setText(
        base_ ? tr("<b>Base:</b> %1").arg(QString::fromStdString(base_->file().path()).toHtmlEscaped())
              : QString());
    summary_->setText(message);
}

void DiffPanel::compareWith(const QString& path) {
    if (!base_) {
        job_->refuse(tr("Open a model first: it is the base the other is compared with"));
        return;
    }
    clearResults(tr("Comparing with %1…").arg(path.toHtmlEscaped()));
    otherPath_ = path;
    title_->setText(
        tr("<b>Base:</b> %1<br><b>Other:</b> %2")
            .arg(QString::fromStdString(base_->file().path()).toHtmlEscaped(), path.toHtmlEscaped()));
    auto base = base_;
    const std::string file = path.toStdString();
    job_->start(
        tr("Comparing models"),
        [base, file](const quantlens::Progress& progress, const quantlens::CancelToken& cancel) -> std::any {
            auto opened = std::make_shared<Opened>();
            opened->other = std::make_shared<quantlens::Model>(quantlens::Model::open(file));
            opened->diff = quantlens::diff_models(*base, *opened->other, progress, &cancel);
            return opened;
        });
}

void DiffPanel::planAtSameSize() {
    if (!diff_ || !other_)
        return;
    planButton_->setEnabled(false);
    auto base = base_, other = other_;
    auto diff = std::make_shared<quantlens::ModelDiff>(*diff_);
    job_->start(tr("Planning at the same size"),
                [base, other, diff](const quantlens::Progress& progress,
                                    const quantlens::CancelToken& cancel) -> std::any {
                    return std::make_shared<quantlens::PlanAtSize>(
                        quantlens::plan_at_checkpoint_size(*base, *other, *diff, {}, progress, &cancel));
                });
}

void DiffPanel::showDiff() {
    const auto& d = *diff_;
    QString text = tr("%1 pairs over %2 weights: SQNR %3 dB, MSE %4, %5 bits per weight in the other.")
                       .arg(d.layers.size())
                       .arg(QLocale().toString(static_cast<qulonglong>(d.parameters)))
                       .arg(d.sqnr_db, 0, 'f', 2)
                       .arg(d.mse, 0, 'g', 4)
                       .arg(d.bits_per_weight, 0, 'f', 3);
    auto names = [](const std::vector<std::string>& list) {
        QStringList out;
        for (const auto& name : list)
            out << QString::fromStdString(name);
        return out.join(QStringLiteral(", ")).toHtmlEscaped();
    };
    if (!d.only_in_base.empty())
        text += tr("<br>Only in the base (%1): %2").arg(d.only_in_base.size()).arg(names(d.only_in_base));
    if (!d.only_in_other.empty())
        text += tr("<br>Only in the other (%1): %2").arg(d.only_in_other.size()).arg(names(d.only_in_other));
    summary_->setText(text);
    bool anyQuantized = false;
    for (const auto& row : d.layers)
        anyQuantized = anyQuantized || (row.quantized && row.error.empty());
    planButton_->setEnabled(anyQuantized);
    planButton_->setToolTip(anyQuantized
                                ? planButton_->toolTip()
                                : tr("The other stores no layer quantized: there is no size to plan at"));
    fillTable();
    plotSeries();
    if (proxy_->rowCount() > 0)
        table_->selectRow(0);
    emit diffed();
}

void DiffPanel::showPlan() {
    const auto& p = *plan_;
    summary_->setText(
        summary_->text() +
        tr("<br><b>Plan at the same size</b> (candidates from %1): %2 bits per weight, SQNR %3 dB, against "
           "the other's %4 bits per weight, SQNR %5 dB (%6 dB) over %7 weights.")
            .arg(QString::fromStdString(p.candidates_from).toHtmlEscaped())
            .arg(p.plan_bits, 0, 'f', 3)
            .arg(p.plan_sqnr_db, 0, 'f', 2)
            .arg(p.checkpoint_bits, 0, 'f', 3)
            .arg(p.checkpoint_sqnr_db, 0, 'f', 2)
            .arg((p.plan_sqnr_db >= p.checkpoint_sqnr_db ? QStringLiteral("+") : QString()) +
                 QString::number(p.plan_sqnr_db - p.checkpoint_sqnr_db, 'f', 2))
            .arg(QLocale().toString(static_cast<qulonglong>(p.parameters))));
    fillTable();
    plotSeries();
    emit planned();
}

// The plan's row of each planned layer, by the diff row's base name (none before a plan).
std::map<std::string, const quantlens::PlannedLayer*> DiffPanel::plannedByLayer() const {
    std::map<std::string, const quantlens::PlannedLayer*> planned;
    if (plan_)
        for (const auto& row : plan_->layers)
            planned[row.layer] = &row;
    return planned;
}

void DiffPanel::fillTable() {
    const int sortColumn = table_->horizontalHeader()->sortIndicatorSection();
    const auto order = table_->horizontalHeader()->sortIndicatorOrder();
    rows_->clear();
    rows_->setHorizontalHeaderLabels({tr("layer"), tr("other's layer"), tr("paired by"), tr("stored as"),
                                      tr("shape"), tr("bits/weight"), tr("MSE"), tr("SQNR dB"), tr("cosine"),
                                      tr("max |error|"), tr("plan"), tr("plan bits/weight"),
                                      tr("plan SQNR dB"), tr("gain dB")});
    const auto planned = plannedByLayer();
    for (std::size_t i = 0; i < diff_->layers.size(); ++i) {
        const auto& row = diff_->layers[i];
        const bool measured = row.error.empty();
        const auto& m = row.metrics;
        QList<QStandardItem*> items{
            cell(QString::fromStdString(row.layer), static_cast<double>(i)),
            cell(QString::fromStdString(row.other_layer)),
            cell(QString::fromStdString(row.pairing)),
            cell(QString::fromStdString(row.stored) + (row.quantized ? QString() : tr(" (float)"))),
            cell(shapeText(row.shape)),
            number(measured ? row.bits_per_weight : std::nan(""), 'f', 3),
            number(measured ? m.mse : std::nan("")),
            number(measured ? m.sqnr_db : std::nan(""), 'f', 2),
            number(measured ? m.cosine : std::nan(""), 'f', 6),
            number(measured ? m.max_abs_error : std::nan(""))};
        items[Layer]->setData(static_cast<int>(i), kDiffRowRole);
        // Text columns sort by their text; the layer column by depth (the base's order).
        for (int c : {OtherLayer, Pairing, Stored, Shape})
            items[c]->setData(items[c]->text(), kSortRole);
        if (!measured)
            for (auto* item : items)
                item->setToolTip(QString::fromStdString(row.error));
        const auto found = planned.find(row.layer);
        if (found != planned.end()) {
            QStringList specs;
            for (const auto& spec : found->second->specs)
                specs << QString::fromStdString(spec);
            items << cell(specs.join(QStringLiteral(", "))) << number(found->second->plan_bits, 'f', 3)
                  << number(found->second->plan.sqnr_db, 'f', 2)
                  << number(found->second->plan.sqnr_db - found->second->checkpoint.sqnr_db, 'f', 2);
            items.back()->setForeground(
                found->second->plan.sqnr_db >= found->second->checkpoint.sqnr_db ? kPlanColor : kOtherColor);
            items[PlanSpec]->setData(items[PlanSpec]->text(), kSortRole);
        } else {
            for (int c = PlanSpec; c < ColumnCount; ++c)
                items << cell(QString());
        }
        rows_->appendRow(items);
    }
    for (int c = PlanSpec; c < ColumnCount; ++c)
        table_->setColumnHidden(c, !plan_);
    if (sortColumn >= 0 && sortColumn < ColumnCount)
        table_->sortByColumn(sortColumn, order);
    table_->resizeColumnsToContents();
    table_->setColumnWidth(Layer, std::min(table_->columnWidth(Layer), 320));
}

// SQNR along depth and against bits per weight: one point per measured pair (an identical pair
// has no finite SQNR and no point), the plan's beside them once made.
void DiffPanel::plotSeries() {
    std::vector<QString> layers, planLayers;
    std::vector<QPointF> depthPoints, bitsPoints, planDepth, planBits;
    const auto planned = plannedByLayer();
    for (std::size_t i = 0; i < diff_->layers.size(); ++i) {
        const auto& row = diff_->layers[i];
        if (!row.error.empty() || !std::isfinite(row.metrics.sqnr_db))
            continue;
        layers.push_back(QString::fromStdString(row.layer));
        depthPoints.emplace_back(static_cast<double>(i), row.metrics.sqnr_db);
        bitsPoints.emplace_back(row.bits_per_weight, row.metrics.sqnr_db);
        if (const auto found = planned.find(row.layer);
            found != planned.end() && std::isfinite(found->second->plan.sqnr_db)) {
            planLayers.push_back(layers.back());
            planDepth.emplace_back(static_cast<double>(i), found->second->plan.sqnr_db);
            planBits.emplace_back(found->second->plan_bits, found->second->plan.sqnr_db);
        }
    }
    auto draw = [&](QCustomPlot* plot, const std::vector<QPointF>& other, const std::vector<QPointF>& plan,
                    bool line) {
        plot->clearGraphs();
        auto add = [&](const std::vector<QPointF>& points, const QColor& color, const QString& name) {
            auto* graph = plot->addGraph();
            graph->setName(name);
            graph->setPen(QPen(color, 1.2));
            graph->setLineStyle(line ? QCPGraph::lsLine : QCPGraph::lsNone);
            graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, color, 6));
            QVector<double> x, y;
            for (const auto& p : points) {
                x << p.x();
                y << p.y();
            }
            graph->setData(x, y, line);  // along depth the keys come sorted
        };
        add(other, kOtherColor, tr("other"));
        if (plan_)
            add(plan, kPlanColor, tr("plan at the same size"));
        plot->rescaleAxes();
        plot->xAxis->scaleRange(1.1);
        plot->yAxis->scaleRange(1.15);
        plot->replot();
    };
    draw(depth_, depthPoints, planDepth, true);
    draw(bits_, bitsPoints, planBits, false);
    auto* depthPicker = depth_->findChild<PlotPicker*>(QStringLiteral("picker"));
    auto* bitsPicker = bits_->findChild<PlotPicker*>(QStringLiteral("picker"));
    auto joined = [](std::vector<QString> a, const std::vector<QString>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    auto joinedPoints = [](std::vector<QPointF> a, const std::vector<QPointF>& b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    if (depthPicker)
        depthPicker->setPoints(joined(layers, planLayers), joinedPoints(depthPoints, planDepth));
    if (bitsPicker)
        bitsPicker->setPoints(joined(layers, planLayers), joinedPoints(bitsPoints, planBits));
}

// The selected pair's two distributions on the base's bins, read off the UI thread.
void DiffPanel::showPair(int diffRow) {
    if (!diff_ || diffRow < 0 || diffRow >= static_cast<int>(diff_->layers.size()))
        return;
    const auto& row = diff_->layers[static_cast<std::size_t>(diffRow)];
    if (!row.error.empty()) {
        histogram_->clear(QString::fromStdString(row.error));
        return;
    }
    histogram_->clear(tr("Reading %1…").arg(QString::fromStdString(row.layer)));
    auto base = base_, other = other_;
    const auto baseParts = row.base_parts, otherParts = row.other_parts;
    histogramJob_->start(tr("Reading the pair"),
                         [base, other, baseParts, otherParts, diffRow](
                             const quantlens::Progress&, const quantlens::CancelToken& cancel) -> std::any {
                             auto pair = std::make_shared<PairHistograms>();
                             pair->row = diffRow;
                             const auto a = valuesOf(*base, baseParts, cancel);
                             pair->base = quantlens::histogram(a, kBins);
                             const auto b = valuesOf(*other, otherParts, cancel);
                             pair->other =
                                 quantlens::histogram_within(b, kBins, static_cast<float>(pair->base.low),
                                                             static_cast<float>(pair->base.high));
                             return pair;
                         });
}

// The table as shown (its order and columns), as CSV.
QString DiffPanel::tableCsv() const {
    std::string out;
    std::vector<int> columns;
    for (int c = 0; c < ColumnCount; ++c)
        if (!table_->isColumnHidden(c))
            columns.push_back(c);
    for (std::size_t i = 0; i < columns.size(); ++i)
        out += (i ? "," : "") +
               quantlens::csv_field(rows_->horizontalHeaderItem(columns[i])->text().toStdString());
    out += "\n";
    for (int r = 0; r < proxy_->rowCount(); ++r) {
        for (std::size_t i = 0; i < columns.size(); ++i)
            out += (i ? "," : "") +
                   quantlens::csv_field(proxy_->index(r, columns[i]).data().toString().toStdString());
        out += "\n";
    }
    return QString::fromStdString(out);
}

}  // namespace quantlens::widgets

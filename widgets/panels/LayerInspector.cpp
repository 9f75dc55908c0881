#include "panels/LayerInspector.hpp"

#include <QGridLayout>
#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

#include <any>
#include <cmath>
#include <mutex>

#include "jobs/JobRunner.hpp"
#include "panels/SpecEditor.hpp"
#include "plots/ChannelPlot.hpp"
#include "plots/HeatmapPlot.hpp"
#include "plots/HistogramPlot.hpp"

namespace quantlens::widgets {

struct LayerInspector::State {
    std::mutex mutex;  // held by the one job using the buffers; a cancelled job lets go soon
    std::string layer;
    quantlens::LayerWeights weights;
    quantlens::QuantResult scratch;
};

LayerInspector::LayerInspector(QWidget* parent)
    : QWidget(parent),
      state_(std::make_shared<State>()),
      editor_(new SpecEditor),
      weights_(new HistogramPlot),
      errors_(new HistogramPlot),
      channels_(new ChannelPlot),
      map_(new HeatmapPlot),
      metrics_(new QLabel),
      job_(new JobRunner(this)) {
    errors_->setAxisLabel(tr("quantization error (dequantized − original)"));
    metrics_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    metrics_->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    auto* top = new QHBoxLayout;
    top->addWidget(editor_, 3);
    top->addWidget(metrics_, 2);
    layout->addLayout(top);
    auto* grid = new QGridLayout;
    grid->addWidget(weights_, 0, 0);
    grid->addWidget(errors_, 0, 1);
    grid->addWidget(channels_, 1, 0);
    grid->addWidget(map_, 1, 1);
    layout->addLayout(grid, 1);
    connect(editor_, &SpecEditor::specChanged, this, &LayerInspector::refresh);
    // The central 99.9% of either histogram: computed with the preview once asked for (it sorts
    // a copy of the layer), then kept for every later preview until full range is chosen again.
    for (auto* plot : {weights_, errors_}) {
        plot->offerCentralRange(true);
        connect(plot, &HistogramPlot::xRangeChanged, this, [this](HistogramPlot::XRange range) {
            if (syncingRange_)
                return;
            const bool central = range == HistogramPlot::XRange::Central;
            syncingRange_ = true;  // one range for both plots
            for (auto* other : {weights_, errors_})
                if (other->xRange() != range)
                    other->setXRange(range);
            syncingRange_ = false;
            if (central && shown_ && !shown_->central_weights)
                refresh();
            else if (shown_)
                show(shown_);
        });
    }
    connect(job_, &JobRunner::finished, this, [this](const std::any& result) {
        show(std::any_cast<std::shared_ptr<const quantlens::LayerPreview>>(result));
    });
    connect(job_, &JobRunner::failed, this, [this](const QString& message) {
        metrics_->setText(
            QStringLiteral("<span style='color:#c0392b'>%1</span>").arg(message.toHtmlEscaped()));
        emit previewFailed(message);
    });
    clear();
}

LayerInspector::~LayerInspector() {
    job_->cancel();
}

void LayerInspector::clear() {
    model_.reset();
    name_.clear();
    shown_.reset();
    weights_->clear(tr("Select a layer"));
    errors_->clear(tr("Quantization error"));
    channels_->clear();
    map_->clear();
    metrics_->setText(tr("Select a layer to preview the spec on it."));
}

void LayerInspector::setLayer(std::shared_ptr<const quantlens::Model> model, const QString& name) {
    model_ = std::move(model);
    name_ = name;
    refresh();
}

void LayerInspector::setCalibration(std::shared_ptr<const quantlens::LoadedInputs> inputs) {
    calibration_ = std::move(inputs);
    refresh();
}

void LayerInspector::refresh() {
    if (!model_ || name_.isEmpty())
        return;
    auto state = state_;
    auto model = model_;
    const std::string layer = name_.toStdString();
    const auto spec = editor_->spec();
    auto calibration = calibration_;
    const bool central = weights_->xRange() == HistogramPlot::XRange::Central;
    job_->start(
        tr("Quantizing"),
        [state, model, layer, spec, calibration, central](const quantlens::Progress&,
                                                          const quantlens::CancelToken& cancel) -> std::any {
            std::lock_guard lock(state->mutex);
            cancel.throw_if_cancelled();
            if (state->layer != layer) {
                state->layer.clear();
                state->weights = model->read_weights(model->layer(layer));
                state->layer = layer;
            }
            quantlens::PreviewOptions options;
            options.cancel = &cancel;
            options.central_range = central;
            const auto matrix = quantlens::as_matrix(state->weights.values(), state->weights.shape);
            if (calibration && calibration->inputs.features == matrix.cols)
                options.inputs = &calibration->inputs;
            options.importance = model->importance(model->layer(layer));  // File ▸ Load Importance Matrix
            return std::shared_ptr<const quantlens::LayerPreview>(std::make_shared<quantlens::LayerPreview>(
                quantlens::preview_layer(matrix, spec, options, state->scratch)));
        });
}

void LayerInspector::show(std::shared_ptr<const quantlens::LayerPreview> preview) {
    shown_ = std::move(preview);
    const auto& p = *shown_;
    const QString spec = QString::fromStdString(p.spec.to_string());
    const bool central = weights_->xRange() == HistogramPlot::XRange::Central && p.central_weights;
    if (p.central_weights) {
        weights_->setHistograms(p.weights, *p.central_weights, tr("%1 — %2").arg(name_, spec));
        errors_->setHistograms(p.errors, *p.central_errors, tr("Error of %1").arg(spec));
    } else {
        weights_->setHistogram(p.weights, tr("%1 — %2").arg(name_, spec));
        errors_->setHistogram(p.errors, tr("Error of %1").arg(spec));
    }
    weights_->clearOverlays();
    weights_->addOverlay(central ? *p.central_dequantized : p.dequantized, QColor(39, 174, 96),
                         tr("dequantized"));
    weights_->setLevels(p.levels, p.clip_low, p.clip_high);
    channels_->setChannels(p.channel_min, p.channel_max, p.channel_rmse);
    const auto& map = p.error_map;
    map_->setMatrix(map.mse, map.rows, map.cols, static_cast<double>(map.rows_per_cell),
                    static_cast<double>(map.columns_per_cell), tr("error per channel and group"));
    const auto& m = p.metrics;
    const QLocale locale;
    metrics_->setText(
        tr("<table>"
           "<tr><td>MSE</td><td align=right><b>%1</b></td></tr>"
           "<tr><td>SQNR</td><td align=right><b>%2 dB</b></td></tr>"
           "<tr><td>max |error|</td><td align=right>%3</td></tr>"
           "<tr><td>cosine</td><td align=right>%4</td></tr>"
           "<tr><td>bits / weight</td><td align=right><b>%5</b></td></tr>"
           "<tr><td>size</td><td align=right>%6</td></tr>"
           "<tr><td>levels</td><td align=right>%7 (first group)</td></tr></table>")
            .arg(m.mse, 0, 'g', 4)
            .arg(std::isfinite(m.sqnr_db) ? QString::number(m.sqnr_db, 'f', 2) : QStringLiteral("∞"))
            .arg(m.max_abs_error, 0, 'g', 4)
            .arg(m.cosine, 0, 'f', 6)
            .arg(m.bits_per_weight, 0, 'f', 3)
            .arg(locale.formattedDataSize(static_cast<qint64>(m.size_bytes)))
            .arg(p.levels.size()) +
        (std::isnan(m.importance_mse)
             ? QString()
             : tr("<table><tr><td>imatrix-weighted MSE</td><td align=right><b>%1</b></td></tr></table>")
                   .arg(m.importance_mse, 0, 'g', 4)));
    emit previewShown();
}

}  // namespace quantlens::widgets

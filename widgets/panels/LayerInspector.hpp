#pragma once
// The selected layer under the spec being edited: its weight histogram with the spec's levels
// and clipping range drawn over it (and the dequantized distribution as a line), the error
// histogram, the per-channel range and error, a map of the error per channel and group, and
// the numbers (MSE, SQNR, max error, bits/weight, size). Every spec change re-quantizes in the
// background (a newer change cancels an older one); the core computes, this only draws.
#include <QWidget>

#include <memory>

#include "model/model.hpp"
#include "quant/calibration_inputs.hpp"
#include "quant/layer_preview.hpp"

class QLabel;

namespace quantlens::widgets {

class ChannelPlot;
class HeatmapPlot;
class HistogramPlot;
class JobRunner;
class SpecEditor;

class LayerInspector : public QWidget {
    Q_OBJECT
public:
    explicit LayerInspector(QWidget* parent = nullptr);
    ~LayerInspector() override;

    void setLayer(std::shared_ptr<const quantlens::Model> model, const QString& name);
    // Calibration inputs X [samples, features] for round=gptq and smooth=, used on layers whose
    // input dimension is `features` (null: none).
    void setCalibration(std::shared_ptr<const quantlens::LoadedInputs> inputs);
    void clear();

    SpecEditor* specEditor() const { return editor_; }
    HistogramPlot* weightPlot() const { return weights_; }
    HistogramPlot* errorPlot() const { return errors_; }
    ChannelPlot* channelPlot() const { return channels_; }
    HeatmapPlot* errorMap() const { return map_; }
    QLabel* metricsLabel() const { return metrics_; }
    JobRunner* job() const { return job_; }
    // The preview on screen (null before the first one).
    const quantlens::LayerPreview* preview() const { return shown_.get(); }
    QString layerName() const { return name_; }

signals:
    void previewShown();
    void previewFailed(const QString& message);

private:
    void refresh();
    void show(std::shared_ptr<const quantlens::LayerPreview> preview);

    struct State;
    std::shared_ptr<State>
        state_;  // the layer's decoded weights and the quantizer's buffers, shared with the job
    std::shared_ptr<const quantlens::Model> model_;
    std::shared_ptr<const quantlens::LoadedInputs> calibration_;
    QString name_;
    SpecEditor* editor_;
    bool syncingRange_ = false;  // while one histogram's x range is copied to the other
    HistogramPlot* weights_;
    HistogramPlot* errors_;
    ChannelPlot* channels_;
    HeatmapPlot* map_;
    QLabel* metrics_;
    JobRunner* job_;
    std::shared_ptr<const quantlens::LayerPreview> shown_;
};

}  // namespace quantlens::widgets

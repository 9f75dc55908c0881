#pragma once
// Two to four specs side by side on the selected layer and, on request, on the whole model:
// the layer's weight histogram with each spec's dequantized distribution over it, a metrics
// table with the best value of each column highlighted, SQNR against bits per weight (a curve
// over 2 … 8 bits for integer specs, a point otherwise), and the whole model's size against
// its SQNR. The core computes everything (compare_on_layer, compare_specs) off the UI thread.
#include <QWidget>

#include <memory>
#include <optional>

#include "model/model.hpp"
#include "quant/comparison.hpp"
#include "quant/layer_preview.hpp"

class QCheckBox;
class QLabel;
class QCustomPlot;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace quantlens::widgets {

class HistogramPlot;
class JobRunner;

class ComparePanel : public QWidget {
    Q_OBJECT
public:
    explicit ComparePanel(QWidget* parent = nullptr);
    ~ComparePanel() override;

    void setLayer(std::shared_ptr<const quantlens::Model> model, const QString& name);
    void setSpecs(const QStringList& specs);  // 2 to 4; empty entries are skipped
    QStringList specs() const;
    QString tableCsv() const;  // the metrics table as CSV (also from its context menu)
    void setWholeModel(bool on);
    // Everything: the layer and, when asked for, the whole model; Layer: the layer alone (the
    // histograms' range changed), the whole-model figures on screen kept.
    enum class Scope { Everything, Layer };
    void compare(Scope scope = Scope::Everything);

    QTableWidget* table() const { return table_; }
    // Enabled when the layer's file stores its weight quantized in a form a spec describes:
    // puts that spec in the last spec box and compares (quantize/stored_spec.hpp).
    QPushButton* storedButton() const { return stored_; }
    QLabel* storedInfo() const { return storedInfo_; }
    HistogramPlot* histogram() const { return histogram_; }
    QCustomPlot* bitsPlot() const { return bits_; }
    QCustomPlot* modelPlot() const { return model_plot_; }
    JobRunner* job() const { return job_; }
    // What is on screen (for tests): the layer comparison and, when asked for, the model's.
    const quantlens::SpecsOnLayer* layerResult() const { return layer_ ? &*layer_ : nullptr; }
    const quantlens::Comparison* modelResult() const { return whole_ ? &*whole_ : nullptr; }

signals:
    void compared();

protected:
    void showEvent(QShowEvent* event) override;

private:
    struct Result;
    void show(const Result& result);
    void clearResults();
    void showHistogram();
    void fillTable();

    std::shared_ptr<const quantlens::Model> model_;
    QString name_;
    bool stale_ = true;
    std::vector<QLineEdit*> specs_;
    QCheckBox* wholeModel_;
    QPushButton* run_;
    QPushButton* stored_;
    QLabel* storedInfo_;
    QString storedSpec_;
    void showStoredFormat();
    QTableWidget* table_;
    HistogramPlot* histogram_;
    QCustomPlot* bits_;
    QCustomPlot* model_plot_;
    JobRunner* job_;
    std::optional<quantlens::SpecsOnLayer> layer_;
    std::optional<quantlens::Comparison> whole_;
};

}  // namespace quantlens::widgets

#pragma once
// Mixed precision under a budget: candidate specs (for every layer and for embeddings), the
// damage metric, then a budget slider in bits per weight that re-solves the knapsack as it
// moves; the Pareto frontier (bits per weight against predicted damage) with the current plan
// on it, each layer's bits along the model's depth, and the assignment table, where a double
// click pins a layer to one of its candidates. Plans load from and save to quantlens.plan/1.
// The weights-only analysis (cached) runs once per candidate set, off the UI thread.
#include <QWidget>

#include <memory>
#include <optional>

#include "alloc/planning.hpp"
#include "model/model.hpp"
#include "export/export_refusals.hpp"
#include "sensitivity/allocation_evidence.hpp"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QPushButton;
class QSlider;
class QTableWidget;

namespace quantlens::widgets {

class JobRunner;
class PlotPicker;

class AllocationPanel : public QWidget {
    Q_OBJECT
public:
    explicit AllocationPanel(QWidget* parent = nullptr);
    ~AllocationPanel() override;

    void setModel(std::shared_ptr<const quantlens::Model> model);
    void setCandidates(const QString& candidates, const QString& embeddingCandidates = {});
    void setTieFused(bool on);
    QString candidates() const;
    QString embeddingCandidates() const;
    void analyse();                        // measure the candidates (then the slider is live)
    void setBudget(double bitsPerWeight);  // as if the slider were moved there
    // As if typed in the budget field: "4.5bpw", or a size ("2.1GB", "800MiB") for the weights.
    void setBudgetText(const QString& text);
    // Labelled or token data for the damage metrics that run the model (HAWQ Ω, measured Δloss).
    void setCalibration(const QString& path);
    // mse, kurtosis, max_to_mean, hawq, measured, fisher, lrp, imatrix (parse_damage_metric's names)
    void setMetric(const QString& name);
    // Offer each layer only what this export format accepts ("" for any format).
    void setExportFormat(const QString& format);
    // A sensitivity report's figures (File ▸ Import Sensitivity Report): HAWQ Ω, measured Δloss,
    // Fisher–Taylor and LRP come from it without running the engine, until the model changes.
    void setImportedEvidence(quantlens::AllocationEvidence evidence);
    // An importance matrix was attached to the model: what was measured without it is re-measured.
    void importanceChanged();
    // Pins and budget: every change can be undone and redone (Ctrl+Z, Ctrl+Shift+Z).
    bool canUndo() const { return at_ > 0; }
    bool canRedo() const { return at_ + 1 < history_.size(); }
    void undo();
    void redo();
    double budgetBits() const { return sliderBits(); }
    std::size_t pinCount() const { return pins_.size(); }
    void pin(const QString& layer, const QString& spec);
    void loadPlan(const QString& path);
    void savePlan(const QString& path);

    // The plan on screen (none before the first solve or load).
    const quantlens::QuantPlan* plan() const { return plan_ ? &*plan_ : nullptr; }
    double minBudget() const { return minBits_; }
    double maxBudget() const { return maxBits_; }
    QSlider* slider() const { return slider_; }
    QTableWidget* table() const { return table_; }
    QCustomPlot* frontierPlot() const { return frontier_; }
    QCustomPlot* barPlot() const { return bars_; }
    PlotPicker* barPicker() const { return barPicker_; }
    JobRunner* job() const { return job_; }
    QLabel* summaryLabel() const { return summary_; }

signals:
    void planChanged();
    void layerClicked(const QString& layer);  // on its bar
    void failed(const QString& message);

private:
    quantlens::PlanRequest request(double bitsPerWeight) const;
    enum class Filter { ExportFormat, None };  // whether the request carries the export format's refusals
    quantlens::PlanRequest request(const quantlens::Budget& budget,
                                   Filter filter = Filter::ExportFormat) const;
    bool needsEngine() const;  // the metric runs the model on calibration data
    bool evidenceServes(const QString& metric) const;
    const quantlens::AllocationEvidence* servingEvidence(const QString& metric) const;
    const quantlens::SpecRefusals& refusals(const std::vector<quantlens::QuantSpec>& specs) const;
    void remember();  // the pins and budget now, as a step to undo to
    void stepTo(std::size_t step);
    void showHistoryButtons();
    enum class Rounding { Nearest, AtOrBelow };
    int sliderStep(double bitsPerWeight, Rounding rounding) const;
    enum class Frontier { Keep, Recompute };
    void solve(Frontier frontier, std::optional<double> bitsPerWeight);
    double sliderBits() const;  // the budget the slider stands at
    void showPlan();

    std::shared_ptr<const quantlens::Model> model_;
    std::shared_ptr<const quantlens::AnalysisReport> report_;
    std::vector<std::pair<std::string, quantlens::QuantSpec>> pins_;
    std::optional<quantlens::AllocationEvidence> evidence_;
    std::optional<quantlens::AllocationEvidence> importedEvidence_;  // File ▸ Import Sensitivity Report
    QString evidenceMetric_, calibration_;
    const quantlens::ImportanceMatrix* reportImportance_ = nullptr;  // attached when report_ was measured
    struct Step {
        std::vector<std::pair<std::string, quantlens::QuantSpec>> pins;
        double bits = 0;
    };
    std::vector<Step> history_;
    std::size_t at_ = 0;
    bool restoring_ = false;
    std::optional<quantlens::QuantPlan> plan_;
    std::vector<quantlens::Allocation> frontierPoints_;
    std::uint64_t parameters_ = 0;
    double minBits_ = 0, maxBits_ = 0;
    QLineEdit* candidates_;
    QLineEdit* embeddings_;
    QComboBox* metric_;
    QCheckBox* tieFused_;
    QComboBox* exportFormat_;
    mutable std::string refusalsKey_;  // the format and specs refused_ was computed for
    mutable quantlens::SpecRefusals refused_;
    QPushButton* analyse_;
    QSlider* slider_;
    QLabel* summary_;
    QCustomPlot* frontier_;
    QCustomPlot* bars_;
    PlotPicker* barPicker_;
    QTableWidget* table_;
    QPushButton* load_;
    QPushButton* save_;
    JobRunner* job_;
    QLineEdit* budget_;  // initialised after job_, in this order
    QPushButton* undo_;
    QPushButton* redo_;
};

}  // namespace quantlens::widgets

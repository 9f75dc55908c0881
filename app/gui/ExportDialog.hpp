#pragma once
// Export from the GUI: a format, a destination and the plan on screen (or one loaded here),
// run by the same core exporters as `quantlens-cli export`, off the UI thread with progress and
// cancel; it reports what was written, or the exporter's checks, which list every layer to change.
#include <QDialog>

#include <memory>
#include <optional>

#include "alloc/plan.hpp"
#include "model/model.hpp"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;

namespace quantlens::widgets {
class JobRunner;
}

namespace quantlens::gui {

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    ExportDialog(std::shared_ptr<const quantlens::Model> model, std::optional<quantlens::QuantPlan> plan,
                 QWidget* parent = nullptr);

    void setFormat(const QString& format);  // the CLI's --format names
    void setDestination(const QString& path);
    void setReplaceOwnOutput(bool replace);  // --force: an earlier QuantLens export may be replaced
    void start();
    QString format() const;  // the chosen format's name (gguf, fakequant, …)
    QString destination() const;
    QString report() const;  // what the last export said (written files, or why not)
    widgets::JobRunner* job() const { return job_; }

signals:
    void exported(const QString& path);
    void exportFailed(const QString& message);

private:
    std::shared_ptr<const quantlens::Model> model_;
    std::optional<quantlens::QuantPlan> plan_;
    QComboBox* format_;
    QLineEdit* destination_;
    QCheckBox* replace_;
    QLabel* planInfo_;
    QLabel* report_;
    QProgressBar* progress_;
    QPushButton* run_;
    QPushButton* cancel_;
    widgets::JobRunner* job_;
};

}  // namespace quantlens::gui

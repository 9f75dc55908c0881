#include "ExportDialog.hpp"

#include "files/FileDialogs.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QVBoxLayout>

#include <any>

#include "export/export_plan.hpp"
#include "jobs/JobRunner.hpp"
#include "util/temporary_path.hpp"

namespace quantlens::gui {

namespace {

struct Written {
    QString path, text;
};

}  // namespace

ExportDialog::ExportDialog(std::shared_ptr<const quantlens::Model> model,
                           std::optional<quantlens::QuantPlan> plan, QWidget* parent)
    : QDialog(parent),
      model_(std::move(model)),
      plan_(std::move(plan)),
      format_(new QComboBox),
      destination_(new QLineEdit),
      replace_(new QCheckBox(
          tr("Replace it if it is an earlier QuantLens export (nothing else is ever replaced)"))),
      planInfo_(new QLabel),
      report_(new QLabel),
      progress_(new QProgressBar),
      run_(new QPushButton(tr("Export"))),
      cancel_(new QPushButton(tr("Cancel"))),
      job_(new widgets::JobRunner(this, widgets::JobRunner::OnCancel::WaitForStop)) {
    setWindowTitle(tr("Export quantized model"));
    const std::vector<std::pair<QString, QString>> formats = {
        {"gguf", tr("GGUF — ggml types per tensor (GGUF or Hugging Face llama sources)")},
        {"fakequant", tr("Fake-quant — dequantized weights in the source's format and dtype")},
        {"safetensors-packed",
         tr("Packed safetensors — compressed-tensors pack-quantized (vLLM, transformers)")},
        {"onnx-qdq", tr("ONNX QDQ — weights behind DequantizeLinear (ONNX sources; onnxruntime)")},
        {"onnx-matmulnbits", tr("ONNX MatMulNBits — 2/4/8-bit MatMul weights (ONNX sources; onnxruntime)")},
        {"gptqmodel", tr("GPTQModel quantize_config.json (dynamic per-module overrides)")},
        {"compressed-tensors", tr("compressed-tensors quantization_config")},
        {"aimet", tr("AIMET parameter encodings")},
        {"llama-tensor-types", tr("llama-quantize --tensor-type-file")}};
    for (const auto& [name, label] : formats)
        format_->addItem(label, name);
    const QSettings settings;  // the format and destination of the last export
    if (const int last = format_->findData(settings.value("export/format")); last >= 0)
        format_->setCurrentIndex(last);
    destination_->setText(settings.value("export/destination").toString());
    auto* browse = new QPushButton(tr("Browse…"));
    auto* loadPlan = new QPushButton(tr("Load plan…"));
    auto* form = new QFormLayout;
    auto* planRow = new QHBoxLayout;
    planRow->addWidget(planInfo_, 1);
    planRow->addWidget(loadPlan);
    form->addRow(tr("Plan"), planRow);
    form->addRow(tr("Format"), format_);
    auto* destinationRow = new QHBoxLayout;
    destinationRow->addWidget(destination_, 1);
    destinationRow->addWidget(browse);
    form->addRow(tr("Destination"), destinationRow);
    form->addRow(QString(), replace_);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    progress_->setRange(0, 1000);
    progress_->hide();
    layout->addWidget(progress_);
    report_->setWordWrap(true);
    report_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* reportArea = new QScrollArea;  // a long list of failing layers scrolls, the buttons stay
    reportArea->setWidget(report_);
    reportArea->setWidgetResizable(true);
    reportArea->setFrameShape(QFrame::NoFrame);
    report_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    layout->addWidget(reportArea, 1);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    buttons->addButton(run_, QDialogButtonBox::AcceptRole);
    buttons->addButton(cancel_, QDialogButtonBox::ActionRole);
    cancel_->setEnabled(false);
    layout->addWidget(buttons);
    resize(720, 320);

    auto describePlan = [this] {
        if (!plan_)
            planInfo_->setText(tr("<i>no plan: make one in the Allocate view, or load one</i>"));
        else
            planInfo_->setText(
                tr("%1 layers named%2%3")
                    .arg(plan_->layers.size())
                    .arg(
                        plan_->default_spec
                            ? tr(", default %1").arg(QString::fromStdString(plan_->default_spec->to_string()))
                            : QString())
                    .arg(plan_->summary
                             ? tr(", %1 bits/weight").arg(plan_->summary->bits_per_weight, 0, 'f', 3)
                             : QString()));
        run_->setEnabled(plan_.has_value());
    };
    describePlan();
    connect(loadPlan, &QPushButton::clicked, this, [this, describePlan] {
        const auto path = widgets::openFileDialog(this, tr("Load plan"), tr("Plans (*.json)"));
        if (path.isEmpty())
            return;
        try {
            plan_ = quantlens::load_plan(path.toStdString());
        } catch (const quantlens::Error& error) {
            report_->setText(QString::fromStdString(error.what()).toHtmlEscaped());
        }
        describePlan();
    });
    connect(browse, &QPushButton::clicked, this, [this] {
        const auto format = format_->currentData().toString();
        const bool folder = quantlens::writes_folder(*model_, format.toStdString());
        const auto options =
            QFileDialog::DontConfirmOverwrite | (folder ? QFileDialog::ShowDirsOnly : QFileDialog::Options());
        const auto path = widgets::saveFileDialog(this, folder ? tr("Export folder") : tr("Export to"),
                                                  QString(), QString(), options);
        if (!path.isEmpty())
            destination_->setText(path);
    });
    connect(run_, &QPushButton::clicked, this, &ExportDialog::start);
    connect(buttons, &QDialogButtonBox::rejected, this, [this] {
        job_->cancel();
        reject();
    });
    connect(cancel_, &QPushButton::clicked, job_, &widgets::JobRunner::cancel);
    connect(job_, &widgets::JobRunner::progressed, this, [this](double fraction, const QString&) {
        progress_->setValue(static_cast<int>(fraction * 1000));
    });
    auto finish = [this] {
        progress_->hide();
        cancel_->setEnabled(false);
        run_->setEnabled(plan_.has_value());
    };
    connect(job_, &widgets::JobRunner::finished, this, [this, finish](const std::any& result) {
        finish();
        const auto written = std::any_cast<std::shared_ptr<Written>>(result);
        report_->setText(written->text);
        emit exported(written->path);
    });
    connect(job_, &widgets::JobRunner::failed, this, [this, finish](const QString& message) {
        finish();
        report_->setText(QStringLiteral("<span style='color:#c0392b'>%1</span>")
                             .arg(message.toHtmlEscaped().replace('\n', QStringLiteral("<br>"))));
        emit exportFailed(message);
    });
    connect(job_, &widgets::JobRunner::cancelled, this, [this, finish] {
        finish();
        report_->setText(tr("Cancelled: nothing was written."));
    });
}

void ExportDialog::setFormat(const QString& format) {
    format_->setCurrentIndex(format_->findData(format));
}

void ExportDialog::setDestination(const QString& path) {
    destination_->setText(path);
}

void ExportDialog::setReplaceOwnOutput(bool replace) {
    replace_->setChecked(replace);
}

QString ExportDialog::format() const {
    return format_->currentData().toString();
}

QString ExportDialog::destination() const {
    return destination_->text();
}

QString ExportDialog::report() const {
    return report_->text();
}

void ExportDialog::start() {
    if (!plan_ || destination_->text().isEmpty()) {
        report_->setText(tr("Choose a destination first."));
        return;
    }
    auto model = model_;
    const auto plan = *plan_;
    const std::string format = format_->currentData().toString().toStdString(),
                      out = destination_->text().toStdString();
    const bool replace = replace_->isChecked();
    QSettings settings;  // the next export starts from these
    settings.setValue("export/format", format_->currentData());
    settings.setValue("export/destination", destination_->text());
    progress_->setValue(0);
    progress_->show();
    cancel_->setEnabled(true);
    run_->setEnabled(false);
    report_->setText(tr("Exporting…"));
    job_->start(
        tr("Exporting"),
        [model, plan, format, out, replace](const quantlens::Progress& progress,
                                            const quantlens::CancelToken& cancel) -> std::any {
            const auto outcome =
                quantlens::export_plan(*model, plan, "(the plan)", format, out, progress, &cancel, replace);
            const auto& summary = outcome.summary;
            auto written = std::make_shared<Written>();
            written->path = QString::fromStdString(out);
            if (quantlens::is_dialect(format)) {
                written->text = QObject::tr("Wrote <b>%1</b> (%2 planned layers).")
                                    .arg(written->path.toHtmlEscaped())
                                    .arg(summary.quantized);
                return written;
            }
            written->text =
                QObject::tr("Wrote <b>%1</b>: %2 tensors (%3 quantized), %4 from %5; the plan is in %6.")
                    .arg(written->path.toHtmlEscaped())
                    .arg(summary.tensors)
                    .arg(summary.quantized)
                    .arg(QLocale().formattedDataSize(static_cast<qint64>(summary.bytes_out)))
                    .arg(QLocale().formattedDataSize(static_cast<qint64>(summary.bytes_in)))
                    .arg(QString::fromStdString(outcome.plan_path).toHtmlEscaped());
            for (const auto& note : quantlens::take_cleanup_notes())  // stale temporaries of a killed run
                written->text +=
                    QStringLiteral("<br><i>%1</i>").arg(QString::fromStdString(note).toHtmlEscaped());
            for (const auto& warning : summary.warnings)
                written->text +=
                    QStringLiteral("<br><i>%1</i>").arg(QString::fromStdString(warning).toHtmlEscaped());
            return written;
        });
}

}  // namespace quantlens::gui

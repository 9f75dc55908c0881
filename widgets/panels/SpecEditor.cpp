#include "panels/SpecEditor.hpp"

#include <QCheckBox>
#include <QComboBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

#include "util/error.hpp"

namespace quantlens::widgets {

namespace {

// The format names as the spec text spells them; "int" stands for int2 … int8 with the bits box.
QStringList formatNames() {
    QStringList names{QStringLiteral("int")};
    for (const auto& name : quantlens::quant_format_names())
        if (name.rfind("int", 0) != 0)
            names << QString::fromStdString(name);
    return names;
}

}  // namespace

SpecEditor::SpecEditor(QWidget* parent)
    : QWidget(parent),
      format_(new QComboBox),
      bits_(new QSpinBox),
      granularity_(new QComboBox),
      groupSize_(new QSpinBox),
      range_(new QComboBox),
      clip_(new QComboBox),
      rounding_(new QComboBox),
      scale_(new QComboBox),
      hadamard_(new QCheckBox(tr("Hadamard rotation"))),
      text_(new QLineEdit),
      message_(new QLabel) {
    format_->addItems(formatNames());
    bits_->setRange(2, 8);
    bits_->setValue(4);
    granularity_->addItem(tr("per tensor"), "tensor");
    granularity_->addItem(tr("per channel"), "channel");
    granularity_->addItem(tr("per group"), "group");
    groupSize_->setRange(1, 65536);
    groupSize_->setValue(128);
    range_->addItem(tr("symmetric"), "sym");
    range_->addItem(tr("asymmetric"), "asym");
    range_->addItem(tr("symmetric, full range"), "full");
    clip_->addItem(tr("min–max"), "minmax");
    clip_->addItem(tr("MSE-optimal"), "mse");
    clip_->addItem(tr("99.9th percentile"), "p99.9");
    clip_->addItem(tr("99th percentile"), "p99");
    rounding_->addItem(tr("nearest"), "rtn");
    rounding_->addItem(tr("stochastic"), "stochastic");
    rounding_->addItem(tr("GPTQ (needs calibration)"), "gptq");
    scale_->addItem(tr("f32 scales"), "f32");
    scale_->addItem(tr("f16 scales"), "f16");
    scale_->addItem(tr("bf16 scales"), "bf16");
    scale_->addItem(tr("E8M0 scales"), "e8m0");
    text_->setToolTip(tr("The spec as the CLI and plan files write it, e.g. int4:g128:asym:clip=mse"));
    message_->setWordWrap(true);

    auto* form = new QFormLayout(this);
    form->setContentsMargins(0, 0, 0, 0);
    auto* formatRow = new QHBoxLayout;
    formatRow->addWidget(format_, 1);
    formatRow->addWidget(new QLabel(tr("bits")));
    formatRow->addWidget(bits_);
    form->addRow(tr("Format"), formatRow);
    auto* scaleRow = new QHBoxLayout;
    scaleRow->addWidget(granularity_, 1);
    scaleRow->addWidget(new QLabel(tr("group")));
    scaleRow->addWidget(groupSize_);
    form->addRow(tr("Scales"), scaleRow);
    auto* rangeRow = new QHBoxLayout;
    rangeRow->addWidget(range_, 1);
    rangeRow->addWidget(scale_);
    form->addRow(tr("Range"), rangeRow);
    auto* clipRow = new QHBoxLayout;
    clipRow->addWidget(clip_, 1);
    clipRow->addWidget(rounding_, 1);
    form->addRow(tr("Clip, round"), clipRow);
    form->addRow(QString(), hadamard_);
    form->addRow(tr("Spec"), text_);
    form->addRow(QString(), message_);

    for (auto* box : {format_, granularity_, range_, clip_, rounding_, scale_})
        connect(box, &QComboBox::currentIndexChanged, this, &SpecEditor::fromControls);
    for (auto* spin : {bits_, groupSize_})
        connect(spin, &QSpinBox::valueChanged, this, &SpecEditor::fromControls);
    connect(hadamard_, &QCheckBox::toggled, this, &SpecEditor::fromControls);
    connect(text_, &QLineEdit::editingFinished, this, [this] { apply(text_->text()); });
    setSpecText(QStringLiteral("int4:g128:asym"));
}

QString SpecEditor::specText() const {
    return QString::fromStdString(spec_.to_string());
}

void SpecEditor::setSpecText(const QString& text) {
    apply(text);
}

void SpecEditor::fromControls() {
    if (updating_)
        return;
    const QString format = format_->currentText();
    QStringList parts{format == QLatin1String("int") ? QStringLiteral("int%1").arg(bits_->value()) : format};
    if (format == QLatin1String("log2"))
        parts << QString::number(bits_->value());
    const bool block = format.startsWith(QLatin1String("q")) || format.startsWith(QLatin1String("mx")) ||
                       format == QLatin1String("nvfp4");
    const bool cast =
        format == QLatin1String("f16") || format == QLatin1String("bf16") || format == QLatin1String("f32");
    if (!block && !cast) {
        const QString granularity = granularity_->currentData().toString();
        parts << (granularity == QLatin1String("group") ? QStringLiteral("g%1").arg(groupSize_->value())
                                                        : granularity);
        if (format == QLatin1String("int"))
            parts << range_->currentData().toString();
        if (clip_->currentData().toString() != QLatin1String("minmax"))
            parts << QStringLiteral("clip=") + clip_->currentData().toString();
        if (scale_->currentData().toString() != QLatin1String("f32"))
            parts << QStringLiteral("scale=") + scale_->currentData().toString();
    }
    if (!cast && rounding_->currentData().toString() != QLatin1String("rtn"))
        parts << QStringLiteral("round=") + rounding_->currentData().toString();
    if (!cast && hadamard_->isChecked())
        parts << QStringLiteral("rot=hadamard");
    apply(parts.join(QLatin1Char(':')));
}

void SpecEditor::apply(const QString& text) {
    try {
        const auto spec = quantlens::QuantSpec::parse(text.trimmed().toStdString());
        message_->clear();
        const bool changed = !(spec == spec_) || text_->text() != QString::fromStdString(spec.to_string());
        spec_ = spec;
        showSpec(spec);
        if (changed)
            emit specChanged(specText());
    } catch (const quantlens::Error& error) {
        message_->setText(QStringLiteral("<span style='color:#c0392b'>%1</span>")
                              .arg(QString::fromStdString(error.what()).toHtmlEscaped()));
    }
}

void SpecEditor::showSpec(const quantlens::QuantSpec& spec) {
    updating_ = true;
    const bool integer = spec.format == quantlens::QuantFormat::Int;
    const QString canonical = QString::fromStdString(spec.to_string());
    const QString head = canonical.section(QLatin1Char(':'), 0, 0);
    format_->setCurrentText(integer ? QStringLiteral("int") : head);
    bits_->setEnabled(integer || spec.format == quantlens::QuantFormat::Log2);
    if (integer || spec.format == quantlens::QuantFormat::Log2)
        bits_->setValue(spec.bits);
    const bool scaled = !spec.is_block_format() && !spec.is_cast();
    for (QWidget* w : std::initializer_list<QWidget*>{granularity_, groupSize_, clip_, scale_})
        w->setEnabled(scaled);
    range_->setEnabled(integer);
    granularity_->setCurrentIndex(spec.granularity == quantlens::Granularity::Tensor    ? 0
                                  : spec.granularity == quantlens::Granularity::Channel ? 1
                                                                                        : 2);
    // A block type's field shows its fixed block (32, or NVFP4's 16), greyed: what it scales together.
    if (spec.granularity == quantlens::Granularity::Group || spec.is_block_format())
        groupSize_->setValue(static_cast<int>(spec.group_size));
    groupSize_->setEnabled(scaled && spec.granularity == quantlens::Granularity::Group);
    range_->setCurrentIndex(!spec.symmetric ? 1 : spec.full_range ? 2 : 0);
    const int clip = spec.clip == quantlens::ClipMethod::MinMax ? 0
                     : spec.clip == quantlens::ClipMethod::Mse  ? 1
                     : spec.percentile >= 99.9                  ? 2
                                                                : 3;
    clip_->setCurrentIndex(clip);
    rounding_->setCurrentIndex(spec.rounding == quantlens::Rounding::Nearest      ? 0
                               : spec.rounding == quantlens::Rounding::Stochastic ? 1
                                                                                  : 2);
    scale_->setCurrentIndex(static_cast<int>(spec.scale_storage));
    hadamard_->setChecked(spec.rotation == quantlens::Rotation::Hadamard);
    text_->setText(canonical);
    updating_ = false;
}

}  // namespace quantlens::widgets

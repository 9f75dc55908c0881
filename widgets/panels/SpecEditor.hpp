#pragma once
// Edits one QuantSpec: format, bits, granularity and group size, range, clipping, rounding,
// scale storage and rotation as controls, and the spec's text form (the same vocabulary as the
// CLI and plan files) in a line that can be typed into. Every change that parses emits
// specChanged with the canonical text; one that does not shows the parser's message.
#include <QWidget>

#include "quant/quant_spec.hpp"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace quantlens::widgets {

class SpecEditor : public QWidget {
    Q_OBJECT
public:
    explicit SpecEditor(QWidget* parent = nullptr);
    quantlens::QuantSpec spec() const { return spec_; }
    QString specText() const;
    const QSpinBox* groupSizeField() const { return groupSize_; }

public slots:
    void setSpecText(const QString& text);  // as if typed; controls follow

signals:
    void specChanged(const QString& canonical);

private:
    void fromControls();
    void showSpec(const quantlens::QuantSpec& spec);  // controls and text, without re-emitting
    void apply(const QString& text);

    QComboBox* format_;
    QSpinBox* bits_;
    QComboBox* granularity_;
    QSpinBox* groupSize_;
    QComboBox* range_;
    QComboBox* clip_;
    QComboBox* rounding_;
    QComboBox* scale_;
    QCheckBox* hadamard_;
    QLineEdit* text_;
    QLabel* message_;
    quantlens::QuantSpec spec_;
    bool updating_ = false;
};

}  // namespace quantlens::widgets

// quantlens [MODEL]: the desktop workbench.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QIcon>

#include "Appearance.hpp"
#include "MainWindow.hpp"
#include "util/versions.hpp"

int main(int argc, char** argv) {
    Q_INIT_RESOURCE(quantlens);  // the resources live in the static quantlens_gui library
    QApplication::setHighDpiScaleFactorRoundingPolicy(Qt::HighDpiScaleFactorRoundingPolicy::PassThrough);
    QApplication app(argc, argv);
    QApplication::setOrganizationName("QuantLens");
    QApplication::setApplicationName("QuantLens");
    QApplication::setApplicationVersion(QString::fromStdString(quantlens::quantlens_version()));
    QCommandLineParser parser;
    parser.setApplicationDescription("Inspect, analyse and quantize model weights");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model", "model file or Hugging Face folder to open");
    const QCommandLineOption calib(
        "calib", "calibration data for the Sensitivity view's model metrics (x and y, token ids or text)",
        "file");
    parser.addOption(calib);
    parser.process(app);
    QApplication::setWindowIcon(QIcon(":/quantlens/quantlens.svg"));
    quantlens::gui::capture_system_palette();
    if (const auto appearance = quantlens::gui::saved_appearance();
        appearance != quantlens::gui::Appearance::System)
        quantlens::gui::apply_appearance(appearance);
    quantlens::gui::MainWindow window;
    window.show();
    if (parser.isSet(calib))
        window.setModelCalibration(QFileInfo(parser.value(calib)).absoluteFilePath());
    if (!parser.positionalArguments().isEmpty())
        window.openModel(parser.positionalArguments().first());
    return QApplication::exec();
}

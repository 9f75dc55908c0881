#include "files/OutputCheck.hpp"

#include <QMessageBox>

#include "io/output_marker.hpp"
#include "util/error.hpp"

namespace quantlens::widgets {

QString outputRefusal(const QString& path, const QStringList& inputs, bool replaceOwn, bool folder) {
    quantlens::OutputRequest request;
    request.path = path.toStdString();
    request.shape = folder ? quantlens::OutputShape::Folder : quantlens::OutputShape::File;
    for (const auto& input : inputs)
        request.inputs.push_back(input.toStdString());
    request.replace = replaceOwn;
    try {
        quantlens::guard_output(request);
    } catch (const quantlens::Error& error) {
        return QString::fromStdString(error.what());
    }
    return {};
}

bool allowOutput(QWidget* parent, const QString& path, const QStringList& inputs, bool replaceOwn) {
    const auto refusal = outputRefusal(path, inputs, replaceOwn);
    if (refusal.isEmpty())
        return true;
    QMessageBox::warning(parent, QObject::tr("Not written"), refusal);
    return false;
}

}  // namespace quantlens::widgets

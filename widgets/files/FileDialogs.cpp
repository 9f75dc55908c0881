#include "files/FileDialogs.hpp"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace quantlens::widgets {

namespace {
const QString kKey = QStringLiteral("files/lastFolder");
}

QString lastFolder() {
    const QString folder = QSettings().value(kKey).toString();
    return !folder.isEmpty() && QFileInfo(folder).isDir() ? folder : QDir::homePath();
}

QString inLastFolder(const QString& name) {
    return name.isEmpty() ? lastFolder() : QDir(lastFolder()).filePath(name);
}

void rememberFolderOf(const QString& path, bool isFolder) {
    if (path.isEmpty())
        return;
    const QFileInfo info(path);
    QSettings().setValue(kKey, isFolder ? info.absoluteFilePath() : info.absolutePath());
}

QString openFileDialog(QWidget* parent, const QString& caption, const QString& filter) {
    const auto path = QFileDialog::getOpenFileName(parent, caption, lastFolder(), filter);
    rememberFolderOf(path);
    return path;
}

QString openFolderDialog(QWidget* parent, const QString& caption) {
    const auto path = QFileDialog::getExistingDirectory(parent, caption, lastFolder());
    rememberFolderOf(path, true);
    return path;
}

QString saveFileDialog(QWidget* parent, const QString& caption, const QString& suggestedName,
                       const QString& filter, QFileDialog::Options options) {
    const auto path =
        QFileDialog::getSaveFileName(parent, caption, inLastFolder(suggestedName), filter, nullptr, options);
    rememberFolderOf(path, options.testFlag(QFileDialog::ShowDirsOnly));
    return path;
}

}  // namespace quantlens::widgets

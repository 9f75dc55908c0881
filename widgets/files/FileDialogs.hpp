#pragma once
// The application's file dialogs, which open in the folder last used by any of them (kept in
// QSettings) rather than in the working directory, and remember the folder of what was chosen.
#include <QFileDialog>
#include <QString>

class QWidget;

namespace quantlens::widgets {

QString openFileDialog(QWidget* parent, const QString& caption, const QString& filter);
QString openFolderDialog(QWidget* parent, const QString& caption);
// `suggestedName` is proposed inside the last folder.
QString saveFileDialog(QWidget* parent, const QString& caption, const QString& suggestedName,
                       const QString& filter, QFileDialog::Options options = {});

// Where the next dialog opens (the home folder until one has been used), and a path joined to it.
QString lastFolder();
QString inLastFolder(const QString& name);
// Notes the folder of a chosen file or the chosen folder itself; empty paths are ignored.
void rememberFolderOf(const QString& path, bool isFolder = false);

}  // namespace quantlens::widgets

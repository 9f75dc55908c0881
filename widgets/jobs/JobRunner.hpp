#pragma once
// The one way work leaves the UI thread: runs a core function on the thread pool with a
// CancelToken and a progress callback, and delivers the result (or the error) by signal
// on the UI thread. Starting a new job cancels the previous one.
#include <QFutureWatcher>
#include <QObject>
#include <QString>

#include <any>
#include <functional>
#include <memory>

#include "util/progress.hpp"

namespace quantlens::widgets {

class JobRunner : public QObject {
    Q_OBJECT
public:
    using Work = std::function<std::any(const quantlens::Progress&, const quantlens::CancelToken&)>;

    // What cancel() does with work that has not yet reached its next check. Abandon (reads,
    // previews, analyses): cancelled() at once, and the work's result is dropped whenever it
    // ends, so a read stuck in a slow device or a long parse never holds the window. WaitForStop
    // (exports): cancelled() once the work has stopped and removed what it wrote.
    enum class OnCancel { Abandon, WaitForStop };

    explicit JobRunner(QObject* parent = nullptr, OnCancel on_cancel = OnCancel::Abandon);
    ~JobRunner() override;

    void start(const QString& title, Work work);
    // A job that could not start (its input was refused before any work): reported through
    // failed() like any failure, so one handler shows every job's errors.
    void refuse(const QString& message);
    bool isRunning() const;

public slots:
    void cancel();

signals:
    void started(const QString& title);
    void progressed(double fraction, const QString& detail);
    void finished(const std::any& result);
    void failed(const QString& message);
    void cancelled();

private:
    struct Outcome {
        std::any value;
        QString error;
        bool cancelled = false;
    };
    void detach();  // the running job's result, if any, is dropped from now on

    QFutureWatcher<Outcome>* watcher_ = nullptr;
    OnCancel on_cancel_;
    std::shared_ptr<quantlens::CancelToken> token_;
};

}  // namespace quantlens::widgets

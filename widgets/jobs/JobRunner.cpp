#include "jobs/JobRunner.hpp"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

#include "util/error.hpp"

namespace quantlens::widgets {

JobRunner::JobRunner(QObject* parent) : QObject(parent) {}

JobRunner::~JobRunner() {
    cancel();
    if (watcher_)
        watcher_->waitForFinished();
}

void JobRunner::refuse(const QString& message) {
    emit failed(message);
}

bool JobRunner::isRunning() const {
    return watcher_ && watcher_->isRunning();
}

void JobRunner::cancel() {
    if (token_)
        token_->cancel();
}

void JobRunner::start(const QString& title, Work work) {
    cancel();
    if (watcher_) {
        watcher_->disconnect(this);  // a superseded job's result is dropped
        connect(watcher_, &QFutureWatcherBase::finished, watcher_, &QObject::deleteLater);
    }
    auto token = std::make_shared<quantlens::CancelToken>();
    token_ = token;
    watcher_ = new QFutureWatcher<Outcome>(this);
    auto* watcher = watcher_;
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher] {
        Outcome outcome = watcher->result();
        watcher->deleteLater();
        if (watcher_ == watcher)
            watcher_ = nullptr;
        if (outcome.cancelled)
            emit cancelled();
        else if (!outcome.error.isEmpty())
            emit failed(outcome.error);
        else
            emit finished(outcome.value);
    });
    QPointer<JobRunner> self(this);
    quantlens::Progress progress = [self, token](std::uint64_t done, std::uint64_t total,
                                                 std::string_view what) {
        if (!self || token->cancelled())
            return;
        double fraction = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
        QString detail = QString::fromUtf8(what.data(), static_cast<qsizetype>(what.size()));
        QMetaObject::invokeMethod(
            self,
            [self, fraction, detail] {
                if (self)
                    emit self->progressed(fraction, detail);
            },
            Qt::QueuedConnection);
    };
    watcher->setFuture(QtConcurrent::run([work = std::move(work), progress, token]() -> Outcome {
        try {
            return {work(progress, *token), {}, false};
        } catch (const quantlens::Cancelled&) {
            return {{}, {}, true};
        } catch (const std::exception& error) {
            return {{}, QString::fromUtf8(error.what()), false};
        }
    }));
    emit started(title);
}

}  // namespace quantlens::widgets

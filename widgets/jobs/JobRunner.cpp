#include "jobs/JobRunner.hpp"

#include <QMetaObject>
#include <QPointer>
#include <QtConcurrent/QtConcurrentRun>

#include "util/error.hpp"

namespace quantlens::widgets {

JobRunner::JobRunner(QObject* parent, OnCancel on_cancel) : QObject(parent), on_cancel_(on_cancel) {}

JobRunner::~JobRunner() {
    if (token_)
        token_->cancel();
    // Work holds only what it captured by value (the model's shared_ptr, names, specs), and
    // its progress reaches this object through a QPointer: abandoned work may end after us.
    if (on_cancel_ == OnCancel::WaitForStop && watcher_)
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
    if (on_cancel_ == OnCancel::Abandon && isRunning()) {
        detach();
        emit cancelled();
    }
}

void JobRunner::detach() {
    if (!watcher_)
        return;
    watcher_->disconnect(this);
    connect(watcher_, &QFutureWatcherBase::finished, watcher_, &QObject::deleteLater);
    watcher_ = nullptr;
}

void JobRunner::start(const QString& title, Work work) {
    if (token_)
        token_->cancel();
    detach();  // a superseded job's result is dropped
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
        quantlens::CancelScope reads(token.get());  // reads inside the readers poll it too
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

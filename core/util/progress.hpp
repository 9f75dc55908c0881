#pragma once
// Progress reporting and cancellation shared by every long operation.
#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "util/error.hpp"

namespace quantlens {

class CancelToken {
public:
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
    bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
    void throw_if_cancelled() const {
        if (cancelled())
            throw Cancelled();
    }

private:
    std::atomic<bool> cancelled_{false};
};

// Reads deep inside a reader (inflating an npz member, a dataset read in slices, waiting for
// the HDF5 check, hashing a file) take no token parameter: they poll the token their thread put
// in scope (read_cancelled). JobRunner, the CLI and the analysis worker each set one around
// their work, so a read is cancelled like any other step.
class CancelScope {
public:
    explicit CancelScope(const CancelToken* token) : previous_(current()) { current() = token; }
    ~CancelScope() { current() = previous_; }
    CancelScope(const CancelScope&) = delete;
    CancelScope& operator=(const CancelScope&) = delete;
    static const CancelToken* token() { return current(); }

private:
    static const CancelToken*& current() {
        thread_local const CancelToken* token = nullptr;
        return token;
    }
    const CancelToken* previous_;
};

inline bool read_cancelled() {
    const auto* token = CancelScope::token();
    return token && token->cancelled();
}
inline void throw_if_read_cancelled() {
    if (read_cancelled())
        throw Cancelled();
}

// done/total in the operation's own unit (bytes, layers); `what` names the current item.
using Progress = std::function<void(std::uint64_t done, std::uint64_t total, std::string_view what)>;

}  // namespace quantlens

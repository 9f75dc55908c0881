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

// done/total in the operation's own unit (bytes, layers); `what` names the current item.
using Progress = std::function<void(std::uint64_t done, std::uint64_t total, std::string_view what)>;

}  // namespace quantlens

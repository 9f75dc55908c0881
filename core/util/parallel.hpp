#pragma once
// Splits [0, n) into contiguous chunks run on up to `max_threads()` threads. Chunks
// are at least `grain` long so small jobs stay on the calling thread.
#include <algorithm>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace quantlens {

inline unsigned max_threads() {
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

template <class Body>  // Body(std::size_t begin, std::size_t end)
void parallel_for(std::size_t n, std::size_t grain, Body body) {
    std::size_t chunks = std::min<std::size_t>(max_threads(), grain ? (n + grain - 1) / grain : 1);
    if (chunks <= 1) {
        if (n)
            body(std::size_t{0}, n);
        return;
    }
    std::size_t step = (n + chunks - 1) / chunks;
    // An exception in a chunk is rethrown on the calling thread once every chunk has ended (one
    // escaping a worker thread would terminate the program).
    std::mutex failure_mutex;
    std::exception_ptr failure;
    auto guarded = [&](std::size_t begin, std::size_t end) {
        try {
            body(begin, end);
        } catch (...) {
            const std::lock_guard lock(failure_mutex);
            if (!failure)
                failure = std::current_exception();
        }
    };
    {
        std::vector<std::jthread> workers;
        for (std::size_t c = 1; c < chunks; ++c) {
            std::size_t begin = c * step, end = std::min(n, begin + step);
            if (begin < end)
                workers.emplace_back([=, &guarded] { guarded(begin, end); });
        }
        guarded(0, std::min(n, step));
    }
    if (failure)
        std::rethrow_exception(failure);
}

}  // namespace quantlens

#pragma once
#include <chrono>
#include <sys/resource.h>

namespace quantlens::bench {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best of `runs` timings of `body` (the least disturbed by the rest of the machine).
template <class Body>
double best_seconds(int runs, Body body) {
    double best = 1e30;
    for (int i = 0; i < runs; ++i) {
        auto start = std::chrono::steady_clock::now();
        body();
        best = std::min(best, seconds_since(start));
    }
    return best;
}

inline double peak_rss_mib(int who = RUSAGE_SELF) {
    rusage usage{};
    getrusage(who, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace quantlens::bench

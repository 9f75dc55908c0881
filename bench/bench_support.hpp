#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

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

// Runs `body` in a forked child, so the peak RSS it reports is its own and not the parent's
// (which may hold large buffers): `body` returns one line of text, handed back here.
template <class Body>
std::string in_child(Body body) {
    int fds[2];
    if (pipe(fds) != 0)
        return {};
    const pid_t child = fork();
    if (child == 0) {
        const std::string line = body();
        (void)!write(fds[1], line.data(), line.size());
        _exit(0);
    }
    close(fds[1]);
    std::string line(512, '\0');
    const auto n = read(fds[0], line.data(), line.size() - 1);
    close(fds[0]);
    waitpid(child, nullptr, 0);
    line.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return line;
}

}  // namespace quantlens::bench

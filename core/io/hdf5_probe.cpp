#include "io/hdf5_probe.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <new>
#include <thread>

#include "io/hdf5_types.hpp"
#include "util/error.hpp"
#include "util/progress.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define QUANTLENS_HAS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QUANTLENS_HAS_SANITIZER 1
#endif
#endif
#if QUANTLENS_HAS_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

namespace quantlens {

namespace {

bool probing = false;
constexpr std::size_t kMessageBytes = 4096;  // within a pipe's buffer: the child never blocks

// The child's address space now, from /proc/self/statm (pages), so the limit adds to it.
std::uint64_t address_space_now() {
    std::ifstream statm("/proc/self/statm");
    std::uint64_t pages = 0;
    statm >> pages;
    return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

[[noreturn]] void child(int pipe_out, std::uint64_t memory, const std::function<void()>& read_everything) {
    probing = true;
    // A fault here ends this child and nothing else: no crash handler of the parent's (a
    // sanitizer's report, a fuzzer's artifact, a GUI's crash dialog) runs for it.
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
        ::signal(fault, SIG_DFL);
#if QUANTLENS_HAS_SANITIZER
    // A sanitizer's finding inside libhdf5 ends the child like a crash, with no report or fuzzer
    // artifact of its own: the parent says what happened.
    __sanitizer_set_death_callback(nullptr);
    __sanitizer_set_report_fd(
        reinterpret_cast<void*>(static_cast<std::intptr_t>(::open("/dev/null", O_WRONLY))));
#endif
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = address_space_now() + memory;
    ::setrlimit(RLIMIT_AS, &limit);
    // The error travels as "file\0where\0reason", so the parent raises the same Error.
    std::string message;
    int code = 0;
    try {
        read_everything();
    } catch (const Error& error) {
        message = error.file() + '\0' + error.where() + '\0' + error.reason();
        code = 2;
    } catch (const std::bad_alloc&) {
        message = std::string(1, '\0') + '\0' + "reading it needs more than the " +
                  std::to_string(memory >> 20) + " MiB it may use";
        code = 3;
    } catch (const std::exception& error) {
        message = std::string(1, '\0') + '\0' + error.what();
        code = 2;
    }
    if (!message.empty())
        (void)!::write(pipe_out, message.data(), std::min<std::size_t>(message.size(), kMessageBytes));
    ::_exit(code);  // no atexit handlers, no stdio flush: the parent owns those
}

std::string signal_name(int signal) {
    const char* name = ::strsignal(signal);
    return std::to_string(signal) + (name ? std::string(" (") + name + ")" : std::string());
}

}  // namespace

bool in_hdf5_probe() {
    return probing;
}

void probe_in_child(const std::string& path, const std::function<void()>& read_everything,
                    const Hdf5ProbeBudget& budget) {
    struct stat status {};
    const std::uint64_t size =
        ::stat(path.c_str(), &status) == 0 ? static_cast<std::uint64_t>(status.st_size) : 0;
    const std::uint64_t memory =
        budget.memory_bytes ? budget.memory_bytes : std::max<std::uint64_t>(1ull << 30, 16 * size);
    const double seconds = budget.seconds > 0 ? budget.seconds : 30.0 + static_cast<double>(size) / 50e6;

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
        throw Error(path, "", std::string("cannot make a pipe: ") + std::strerror(errno));
    pid_t pid;
    {
        // No other thread is inside libhdf5 while the child is made, so its copy of the library's
        // state is consistent.
        std::lock_guard lock(hdf5_mutex());
        pid = ::fork();
    }
    if (pid < 0) {
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        throw Error(path, "", std::string("cannot start the HDF5 check: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::close(pipe_fds[0]);
        child(pipe_fds[1], memory, read_everything);
    }
    ::close(pipe_fds[1]);
    // Non-blocking: a child forked meanwhile by another thread may hold a copy of the write end.
    ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);

    int status_code = 0;
    const auto start = std::chrono::steady_clock::now();
    bool timed_out = false;
    while (true) {
        const pid_t done = ::waitpid(pid, &status_code, WNOHANG);
        if (done == pid)
            break;
        if (done < 0 && errno != EINTR)
            break;
        if (read_cancelled()) {  // the check is stopped with the work that asked for it
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status_code, 0);
            ::close(pipe_fds[0]);
            throw Cancelled();
        }
        if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status_code, 0);
            timed_out = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::string message(kMessageBytes, '\0');
    const ssize_t got = ::read(pipe_fds[0], message.data(), message.size());
    message.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    ::close(pipe_fds[0]);

    if (timed_out) {
        char limit[32];
        std::snprintf(limit, sizeof limit, "%.1f", seconds);
        throw Error(path, "",
                    std::string("reading it took longer than ") + limit +
                        " s; stopped (a corrupt or hostile HDF5 file)");
    }
    if (WIFSIGNALED(status_code))
        throw Error(
            path, "",
            "the HDF5 library crashed reading it (signal " + signal_name(WTERMSIG(status_code)) +
                "): the file is corrupt; QuantLens stayed up because it read it in a separate process");
    if (!WIFEXITED(status_code) || WEXITSTATUS(status_code) != 0) {
        const auto first = message.find('\0'),
                   second = first == std::string::npos ? first : message.find('\0', first + 1);
        if (second == std::string::npos)
            throw Error(path, "",
                        "reading it failed in the HDF5 check (exit status " +
                            std::to_string(WEXITSTATUS(status_code)) + "; it may need more than the " +
                            std::to_string(memory >> 20) + " MiB it may use)");
        const std::string file = message.substr(0, first);
        throw Error(file.empty() ? path : file, message.substr(first + 1, second - first - 1),
                    message.substr(second + 1));
    }
}

}  // namespace quantlens

#include "util/temporary_path.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <mutex>
#include <random>
#include <utility>

#include "util/paths.hpp"

namespace quantlens {

namespace fs = std::filesystem;

namespace {

const std::string kTag = ".quantlens-tmp-";

std::mutex notes_mutex;
std::vector<std::string>& notes() {
    static std::vector<std::string> list;
    return list;
}

// The process id in ".NAME.quantlens-tmp-PID-N", or 0 when `entry` is not a temporary of NAME.
pid_t owner_of(const std::string& entry, const std::string& name) {
    const std::string prefix = "." + name + kTag;
    if (entry.rfind(prefix, 0) != 0)
        return 0;
    const char* begin = entry.data() + prefix.size();
    const char* end = entry.data() + entry.size();
    long pid = 0;
    auto [after, error] = std::from_chars(begin, end, pid);
    if (error != std::errc() || after == begin || after == end || *after != '-' || pid <= 0)
        return 0;
    return static_cast<pid_t>(pid);
}

}  // namespace

fs::path temporary_path(const fs::path& target) {
    const fs::path named = named_path(target);
    const fs::path folder = named.has_parent_path() ? named.parent_path() : fs::path(".");
    static std::random_device random;
    return folder / ("." + named.filename().string() + kTag + std::to_string(::getpid()) + "-" +
                     std::to_string(random()));
}

std::vector<std::string> remove_stale_temporaries(const fs::path& target) {
    const fs::path named = named_path(target);
    const fs::path folder = named.has_parent_path() ? named.parent_path() : fs::path(".");
    const std::string name = named.filename().string();
    std::vector<fs::path> stale;
    std::error_code error;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
        const pid_t owner = owner_of(it->path().filename().string(), name);
        if (owner == 0 || owner == ::getpid())
            continue;
        if (::kill(owner, 0) == 0 || errno != ESRCH)
            continue;  // still running (or not ours to ask)
        stale.push_back(it->path());
    }
    std::vector<std::string> removed;
    for (const auto& path : stale) {
        std::error_code ignored;
        if (fs::remove_all(path, ignored) > 0 && !ignored)
            removed.push_back(path.string());
    }
    if (!removed.empty()) {
        std::lock_guard lock(notes_mutex);
        for (const auto& path : removed)
            notes().push_back("removed " + path + ", a temporary left by an interrupted QuantLens run");
    }
    return removed;
}

std::vector<std::string> take_cleanup_notes() {
    std::lock_guard lock(notes_mutex);
    return std::exchange(notes(), {});
}

}  // namespace quantlens

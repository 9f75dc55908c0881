#include "util/memory_budget.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "util/error.hpp"

namespace quantlens {

namespace {

std::uint64_t available_memory() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::uint64_t value = 0;
    std::string unit;
    while (meminfo >> key >> value >> unit)
        if (key == "MemAvailable:")
            return value * 1024;
    const long pages = ::sysconf(_SC_AVPHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                                 : std::numeric_limits<std::uint64_t>::max();
}

std::string mib(std::uint64_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / 1048576.0);
    return text;
}

std::uint64_t limited(std::uint64_t budget) {
    if (const char* limit = std::getenv("QUANTLENS_MEMORY_LIMIT"); limit && *limit) {
        char* end = nullptr;
        const auto value = std::strtoull(limit, &end, 10);
        if (end && *end == '\0')
            budget = std::min<std::uint64_t>(budget, value);
    }
    return budget;
}

}  // namespace

std::uint64_t tensor_memory_budget() {
    return limited(available_memory() / 2);
}

std::uint64_t job_memory_budget() {
    return limited(available_memory());
}

void require_memory(std::uint64_t bytes, const std::string& path, const std::string& where,
                    std::string_view purpose) {
    const auto budget = tensor_memory_budget();
    if (bytes <= budget)
        return;
    throw Error(path, where,
                std::string(purpose) + " needs " + mib(bytes) + ", more than the " + mib(budget) +
                    " one tensor may take (half the memory available now, or QUANTLENS_MEMORY_LIMIT): "
                    "refused rather than exhaust the machine");
}

}  // namespace quantlens

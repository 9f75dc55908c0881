#pragma once
// How much memory one decompressed or decoded tensor may claim: half the memory available now
// (MemAvailable in /proc/meminfo, the kernel's estimate of what can be allocated without
// swapping), or less when QUANTLENS_MEMORY_LIMIT (bytes) says so. A small file that expands to
// more (a deflated npz member of zeros, HDF5 fill values) is refused before the allocation,
// naming the limit, rather than exhausting the machine.
#include <cstdint>
#include <string>
#include <string_view>

namespace quantlens {

std::uint64_t tensor_memory_budget();
// What a whole job may take: the memory available now, or QUANTLENS_MEMORY_LIMIT when lower.
std::uint64_t job_memory_budget();

// Error naming `path`, `where`, what needs the memory and the budget, when `bytes` exceed it.
void require_memory(std::uint64_t bytes, const std::string& path, const std::string& where,
                    std::string_view purpose);

}  // namespace quantlens

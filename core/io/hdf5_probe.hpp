#pragma once
// libhdf5 (Debian's 1.10) trusts a file's metadata: a flipped byte can send it reading out of
// bounds, and a few bytes can declare a dataset of gigabytes. So before an HDF5 file is opened
// in this process, a forked child opens it with the same reader, reads every dataset, and exits;
// it runs under a memory budget (address space limited to what it had plus the budget) and a
// time budget. Only a file the child read cleanly is opened here. A crash, an exhausted budget or
// an error in the child becomes an Error naming the file and what happened; the application
// stays up. This is the isolation README "Reliability" describes.
#include <cstdint>
#include <functional>
#include <string>

namespace quantlens {

struct Hdf5ProbeBudget {
    std::uint64_t memory_bytes = 0;  // 0: max(1 GiB, 16 × the file's size)
    double seconds = 0;              // 0: 30 s + 1 s per 50 MB of file
};

// Runs `read_everything` (which must open and read the file the way this process will) in a
// forked child under `budget`; throws Error naming `path` when the child did not finish cleanly.
void probe_in_child(const std::string& path, const std::function<void()>& read_everything,
                    const Hdf5ProbeBudget& budget = {});

// True inside the forked child (the HDF5 lock it inherited may be held by a thread that does not
// exist there, so the reader takes a lock of its own).
bool in_hdf5_probe();

}  // namespace quantlens

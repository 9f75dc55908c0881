#pragma once
// Names of the temporaries that atomic writes stage beside their target, and the clean-up of
// those a killed run left behind. A temporary of target DIR/NAME is DIR/.NAME.quantlens-tmp-PID-N
// (N random): recognisable as QuantLens's, and tied to the process that made it, so the next
// write to the same target removes it once that process is gone (SIGKILL, power loss).
#include <filesystem>
#include <string>
#include <vector>

namespace quantlens {

// A fresh temporary name for `target` (not created).
std::filesystem::path temporary_path(const std::filesystem::path& target);

// Removes the temporaries of `target` whose process no longer runs; returns what it removed.
std::vector<std::string> remove_stale_temporaries(const std::filesystem::path& target);

// What the last clean-ups removed, for the CLI and the GUI to say; taking them clears them.
std::vector<std::string> take_cleanup_notes();

}  // namespace quantlens

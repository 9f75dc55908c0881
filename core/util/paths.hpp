#pragma once
// Paths as the file system resolves them, not as they are spelled: "a/../b", "./b" and a
// symbolic link to b all name b. Every check of "is this inside that folder" goes through here,
// since a lexical check is fooled by any symbolic link along the way.
#include <filesystem>
#include <string>

namespace quantlens {

// The path a name with a trailing separator means: "out/" names "out".
std::filesystem::path named_path(const std::filesystem::path& path);

// Absolute, with every symbolic link of its existing part resolved ("out/" names "out").
std::string resolved(const std::string& path);

// True when `candidate` is `folder` or lies inside it, both resolved.
bool same_or_inside(const std::string& candidate, const std::string& folder);

}  // namespace quantlens

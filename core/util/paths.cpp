#include "util/paths.hpp"

#include <algorithm>
#include <filesystem>

namespace quantlens {

namespace fs = std::filesystem;

fs::path named_path(const fs::path& path) {
    return path.filename().empty() ? path.parent_path() : path;
}

std::string resolved(const std::string& path) {
    std::error_code ignored;
    const auto absolute = named_path(fs::absolute(path, ignored));
    return fs::weakly_canonical(absolute, ignored).lexically_normal().string();
}

bool same_or_inside(const std::string& candidate, const std::string& folder) {
    const fs::path a = resolved(candidate), b = resolved(folder);
    auto [end, _] = std::mismatch(b.begin(), b.end(), a.begin(), a.end());
    return end == b.end();
}

}  // namespace quantlens

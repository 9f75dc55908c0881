#include "model/model_identity.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace quantlens {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kHeaderBytes = 1 << 20;

struct FileIdentity {
    std::string line, content;
};

FileIdentity describe_file(const fs::path& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    const auto mtime = fs::last_write_time(path, error).time_since_epoch().count();
    std::string head(kHeaderBytes, '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    const std::string content = std::to_string(size) + " " + hex64(fnv1a(head)) + "\n";
    return {path.filename().string() + " " + std::to_string(size) + " " + std::to_string(mtime) + " " +
                hex64(fnv1a(head)) + "\n",
            content};
}

}  // namespace

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t hash) {
    for (unsigned char c : bytes)
        hash = (hash ^ c) * 1099511628211ull;
    return hash;
}

std::string hex64(std::uint64_t value) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return text;
}

std::string ModelIdentity::hex() const {
    return hex64(hash);
}

ModelIdentity model_identity(const std::string& path) {
    ModelIdentity identity;
    std::error_code error;
    if (fs::is_directory(path, error)) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(path, error))
            if (entry.is_regular_file(error))
                files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        std::string content;
        for (const auto& file : files) {
            const auto described = describe_file(file);
            identity.description += described.line;
            content += described.content;
        }
        identity.content = fnv1a(content);
    } else {
        const auto described = describe_file(path);
        identity.description = described.line;
        identity.content = fnv1a(described.content);
    }
    identity.hash = fnv1a(identity.description);
    return identity;
}

}  // namespace quantlens

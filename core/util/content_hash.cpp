#include "util/content_hash.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "util/error.hpp"
#include "util/mapped_file.hpp"
#include "util/progress.hpp"

namespace quantlens {

namespace fs = std::filesystem;

struct ContentHasher::State {
    XXH3_state_t* xxh = XXH3_createState();
    ~State() { XXH3_freeState(xxh); }
};

ContentHasher::ContentHasher() : state_(std::make_unique<State>()) {
    if (!state_->xxh)
        throw std::bad_alloc();
    XXH3_128bits_reset(state_->xxh);
}

ContentHasher::~ContentHasher() = default;

void ContentHasher::update(std::span<const std::byte> bytes) {
    XXH3_128bits_update(state_->xxh, bytes.data(), bytes.size());
}

void ContentHasher::update(std::string_view text) {
    XXH3_128bits_update(state_->xxh, text.data(), text.size());
}

std::string ContentHasher::hex() const {
    const XXH128_hash_t hash = XXH3_128bits_digest(state_->xxh);
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(hash.high64),
                  static_cast<unsigned long long>(hash.low64));
    return text;
}

std::string content_hash(std::span<const std::byte> bytes) {
    ContentHasher hasher;
    hasher.update(bytes);
    return hasher.hex();
}

namespace {

void hash_file(ContentHasher& hasher, const fs::path& path, const CancelToken* cancel) {
    const int fd = open_regular_file(path.string());  // refuses FIFOs and devices, by name
    std::vector<std::byte> buffer(4 << 20);
    for (;;) {
        if (cancel)
            cancel->throw_if_cancelled();
        if (read_cancelled()) {
            ::close(fd);
            throw Cancelled();
        }
        const auto got = ::read(fd, buffer.data(), buffer.size());
        if (got < 0) {
            ::close(fd);
            throw Error(path.string(), "", "cannot be read");
        }
        if (got == 0)
            break;
        hasher.update(std::span(buffer.data(), static_cast<std::size_t>(got)));
    }
    ::close(fd);
}

}  // namespace

std::string file_content_hash(const std::string& path, const CancelToken* cancel) {
    ContentHasher hasher;
    std::error_code error;
    if (!fs::is_directory(path, error)) {
        hash_file(hasher, path, cancel);
        return hasher.hex();
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, error))
        if (entry.is_regular_file(
                error))  // through symbolic links: a Hugging Face cache snapshot is made of them
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
        hasher.update(file.filename().string() + " " + std::to_string(fs::file_size(file, error)) + "\n");
        hash_file(hasher, file, cancel);
    }
    return hasher.hex();
}

}  // namespace quantlens

#pragma once
// A content hash for recognising bytes again: XXH3's 128-bit variant (libxxhash), which runs at
// memory speed, written as 32 hex digits. It finds changed data, not tampering: it is not a
// cryptographic hash (docs/analysis.md, "Cache").
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace quantlens {

class CancelToken;

class ContentHasher {
public:
    ContentHasher();
    ~ContentHasher();
    ContentHasher(const ContentHasher&) = delete;
    ContentHasher& operator=(const ContentHasher&) = delete;
    void update(std::span<const std::byte> bytes);
    void update(std::string_view text);
    std::string hex() const;  // of everything given so far

private:
    struct State;
    std::unique_ptr<State> state_;
};

std::string content_hash(std::span<const std::byte> bytes);

// Every byte of the file at `path`, or of each regular file of the folder at `path` (by name,
// in name order, each with its name and size): what a model's or a calibration file's results
// depend on. Reads the whole input (at disk or page-cache speed), polling `cancel` between
// 4 MiB reads. Throws Error when a file cannot be read.
std::string file_content_hash(const std::string& path, const CancelToken* cancel = nullptr);

}  // namespace quantlens

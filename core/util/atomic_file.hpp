#pragma once
// Writes a file so that readers only ever see the old file or the complete new one:
// data go to a temporary file in the target's folder, which is fsynced and renamed over
// the target on commit(). Destroying an uncommitted AtomicFile removes the temporary.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace quantlens {

class AtomicFile {
public:
    explicit AtomicFile(std::string target);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(std::span<const std::byte> bytes);
    void write(const void* data, std::size_t size) { write({static_cast<const std::byte*>(data), size}); }
    void write_zeros(std::size_t count);
    std::uint64_t position() const { return position_; }
    void commit();

    const std::string& temp_path() const { return temp_path_; }

private:
    std::string target_, temp_path_;
    int fd_ = -1;
    std::uint64_t position_ = 0;
    bool committed_ = false;
};

}  // namespace quantlens

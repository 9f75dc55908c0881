#pragma once
// Read-only memory map of a whole file. Tensor views point into it, so readers hand
// out shared_ptrs and a view keeps its file mapped for as long as it lives.
#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace quantlens {

class MappedFile {
public:
    static std::shared_ptr<const MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return path_; }
    std::size_t size() const { return size_; }
    std::span<const std::byte> bytes() const { return {data_, size_}; }

    // The byte range [offset, offset + length), or an Error naming `field` when it lies
    // outside the file.
    std::span<const std::byte> range(std::uint64_t offset, std::uint64_t length,
                                     const std::string& field) const;

private:
    MappedFile(std::string path, const std::byte* data, std::size_t size)
        : path_(std::move(path)), data_(data), size_(size) {}
    std::string path_;
    const std::byte* data_;
    std::size_t size_;
};

// Opens a file for reading only when it is a regular file: a FIFO, device, socket or folder is
// refused at once with an Error naming it (opening a FIFO would otherwise wait for a writer
// forever). Returns the descriptor; the caller closes it.
int open_regular_file(const std::string& path);

// Reads at most `limit` bytes from the start of a regular file (used to detect formats).
std::string read_prefix(const std::string& path, std::size_t limit);

// A whole regular file of at most `limit` bytes; Error naming the file and the limit otherwise.
std::string read_small_file(const std::string& path, std::size_t limit);

}  // namespace quantlens

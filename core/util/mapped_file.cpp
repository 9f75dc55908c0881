#include "util/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.hpp"

namespace quantlens {

int open_regular_file(const std::string& path) {
    // O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        throw Error(path, "", std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        const char* what = S_ISFIFO(st.st_mode)   ? "a FIFO"
                           : S_ISDIR(st.st_mode)  ? "a folder"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "a device or special file";
        throw Error(path, "",
                    std::string("is ") + what + ", not a regular file; QuantLens reads regular files only");
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
    const int fd = open_regular_file(path);
    struct stat st {};
    ::fstat(fd, &st);
    auto size = static_cast<std::size_t>(st.st_size);
    const std::byte* data = nullptr;
    if (size > 0) {
        void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            ::close(fd);
            throw Error(path, "", std::string("cannot map: ") + std::strerror(err));
        }
        data = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping stays valid after close
    return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
    if (data_)
        ::munmap(const_cast<std::byte*>(data_), size_);
}

std::span<const std::byte> MappedFile::range(std::uint64_t offset, std::uint64_t length,
                                             const std::string& field) const {
    if (offset > size_ || length > size_ - offset)
        throw Error(path_, field,
                    "byte range [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                        std::to_string(length) + ") lies outside the file of " + std::to_string(size_) +
                        " bytes");
    return {data_ + offset, static_cast<std::size_t>(length)};
}

namespace {

// Up to `limit` bytes from the descriptor's current position.
std::string read_up_to(int fd, const std::string& path, std::size_t limit) {
    std::string bytes(limit, '\0');
    std::size_t done = 0;
    while (done < limit) {
        const ssize_t n = ::read(fd, bytes.data() + done, limit - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int error = errno;
            ::close(fd);
            throw Error(path, at_byte(done), std::string("read failed: ") + std::strerror(error));
        }
        if (n == 0)
            break;
        done += static_cast<std::size_t>(n);
    }
    bytes.resize(done);
    return bytes;
}

}  // namespace

std::string read_prefix(const std::string& path, std::size_t limit) {
    const int fd = open_regular_file(path);
    auto prefix = read_up_to(fd, path, limit);
    ::close(fd);
    return prefix;
}

std::string read_small_file(const std::string& path, std::size_t limit) {
    const int fd = open_regular_file(path);
    struct stat st {};
    ::fstat(fd, &st);
    if (static_cast<std::uint64_t>(st.st_size) > limit) {
        ::close(fd);
        throw Error(path, "",
                    "file of " + std::to_string(st.st_size) + " bytes is larger than the " +
                        std::to_string(limit) + "-byte limit for this kind of file");
    }
    auto bytes = read_up_to(fd, path, limit);
    ::close(fd);
    return bytes;
}

}  // namespace quantlens

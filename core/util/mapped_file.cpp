#include "util/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "util/error.hpp"

namespace quantlens {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path, "", std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path, "", "not a regular file");
    }
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
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

std::span<const std::byte> MappedFile::range(std::uint64_t offset, std::uint64_t length,
                                             const std::string& field) const {
    if (offset > size_ || length > size_ - offset)
        throw Error(path_, field,
                    "byte range [" + std::to_string(offset) + ", " + std::to_string(offset) + " + " +
                        std::to_string(length) + ") lies outside the file of " +
                        std::to_string(size_) + " bytes");
    return {data_ + offset, static_cast<std::size_t>(length)};
}

std::string read_prefix(const std::string& path, std::size_t limit) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path, "", "cannot open for reading");
    std::string prefix(limit, '\0');
    in.read(prefix.data(), static_cast<std::streamsize>(limit));
    prefix.resize(static_cast<std::size_t>(in.gcount()));
    return prefix;
}

}  // namespace quantlens

#include "util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "util/error.hpp"
#include "util/output_guard.hpp"
#include "util/temporary_path.hpp"

namespace quantlens {

namespace fs = std::filesystem;

int rename_path(const std::string& from, const std::string& to, bool replace) {
    if (replace)
        return std::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    // A file system without RENAME_NOREPLACE: link() refuses an existing name as well.
    if (::link(from.c_str(), to.c_str()) != 0)
        return errno;
    ::unlink(from.c_str());
    return 0;
}

AtomicFile::AtomicFile(std::string target, Existing existing)
    : target_(std::move(target)), existing_(existing) {
    remove_stale_temporaries(target_);
    for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
        temp_path_ = temporary_path(target_).string();
        fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd_ < 0 && errno != EEXIST)
            break;
    }
    if (fd_ < 0)
        throw Error(target_, "",
                    std::string("cannot create a temporary file beside it: ") + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0)
        ::close(fd_);
    if (!committed_)
        ::unlink(temp_path_.c_str());
}

void AtomicFile::write(std::span<const std::byte> bytes) {
    const std::byte* data = bytes.data();
    std::size_t left = bytes.size();
    while (left > 0) {
        ssize_t written = ::write(fd_, data, left);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            throw Error(target_, at_byte(position_), std::string("write failed: ") + std::strerror(errno));
        }
        data += written;
        left -= static_cast<std::size_t>(written);
        position_ += static_cast<std::uint64_t>(written);
    }
}

void AtomicFile::write_zeros(std::size_t count) {
    static const std::vector<std::byte> zeros(4096);
    while (count > 0) {
        std::size_t n = std::min(count, zeros.size());
        write({zeros.data(), n});
        count -= n;
    }
}

void AtomicFile::commit() {
    if (::fsync(fd_) != 0)
        throw Error(target_, "", std::string("fsync failed: ") + std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    const bool replace = existing_ == Existing::Replace || replacement_approved(target_);
    if (const int error = rename_path(temp_path_, target_, replace); error != 0) {
        if (error == EEXIST)
            throw Error(target_, "",
                        "exists, and QuantLens was not allowed to replace it; it is left as it was");
        throw Error(
            target_, "",
            std::string("cannot rename the finished temporary file into place: ") + std::strerror(error));
    }
    committed_ = true;
    fs::path dir = fs::path(target_).parent_path();
    int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {  // make the rename itself durable
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

}  // namespace quantlens

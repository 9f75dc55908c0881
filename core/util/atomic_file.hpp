#pragma once
// Writes a file so that readers only ever see the old file or the complete new one:
// data go to a temporary file in the target's folder, which is fsynced and renamed over
// the target on commit(). Destroying an uncommitted AtomicFile removes the temporary.
// An existing target is replaced only when the caller owns it (Existing::Replace: the
// caches) or check_output() approved replacing it (util/output_guard.hpp); otherwise commit()
// refuses and leaves it as it was, even if it appeared while the data were being written.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace quantlens {

class AtomicFile {
public:
    enum class Existing { ReplaceIfApproved, Replace };
    explicit AtomicFile(std::string target, Existing existing = Existing::ReplaceIfApproved);
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
    Existing existing_;
};

// Moves `from` to `to`, replacing `to` only when `replace`; otherwise an existing `to` is
// an error (EEXIST) and neither path changes. Returns 0 or an errno value.
int rename_path(const std::string& from, const std::string& to, bool replace);

}  // namespace quantlens

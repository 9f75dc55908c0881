#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "io/byte_cursor.hpp"
#include "io/numpy.hpp"
#include "util/mapped_file.hpp"
#include "util/memory_budget.hpp"
#include "util/progress.hpp"
#include "util/utf8.hpp"

namespace quantlens {

namespace {

constexpr std::uint32_t kEndOfDirectory = 0x06054b50, kZip64Locator = 0x07064b50, kZip64End = 0x06064b50;
constexpr std::uint32_t kDirectoryEntry = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr std::uint64_t kMaxDeflateRatio = 1032;  // deflate cannot expand data further than this

std::uint64_t find_end_of_directory(std::span<const std::byte> archive, const std::string& path) {
    if (archive.size() < 22)
        throw Error(path, "end of central directory",
                    "file of " + std::to_string(archive.size()) + " bytes is too short for a zip archive");
    std::uint64_t lowest = archive.size() > 22 + 65535 ? archive.size() - 22 - 65535 : 0;
    for (std::uint64_t at = archive.size() - 22 + 1; at-- > lowest;) {
        std::uint32_t signature;
        std::memcpy(&signature, archive.data() + at, 4);
        if (signature == kEndOfDirectory)
            return at;
    }
    throw Error(path, "end of central directory",
                "no zip end-of-central-directory record in the last 64 KiB");
}

}  // namespace

std::vector<ZipMember> parse_zip_directory(std::span<const std::byte> archive, const std::string& path) {
    const std::uint64_t eocd = find_end_of_directory(archive, path);
    ByteCursor end(archive.subspan(eocd), path);
    end.take(10, "end of central directory");
    std::uint64_t entries = end.read<std::uint16_t>("entry count");
    std::uint64_t directory_size = end.read<std::uint32_t>("central directory size");
    std::uint64_t directory_offset = end.read<std::uint32_t>("central directory offset");
    if (entries == 0xFFFF || directory_size == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
        if (eocd < 20)
            throw Error(path, "zip64 locator", "missing before the end-of-central-directory record");
        ByteCursor locator(archive.subspan(eocd - 20, 20), path);
        if (locator.read<std::uint32_t>("zip64 locator signature") != kZip64Locator)
            throw Error(path, "zip64 locator at " + at_byte(eocd - 20), "signature missing");
        locator.take(4, "zip64 locator");
        auto record_at = locator.read<std::uint64_t>("zip64 end record offset");
        if (record_at > archive.size() || archive.size() - record_at < 56)
            throw Error(path, "zip64 end record",
                        "offset " + std::to_string(record_at) + " lies outside the file");
        ByteCursor record(archive.subspan(record_at, 56), path);
        if (record.read<std::uint32_t>("zip64 end record signature") != kZip64End)
            throw Error(path, "zip64 end record at " + at_byte(record_at), "signature missing");
        record.take(28, "zip64 end record");
        entries = record.read<std::uint64_t>("zip64 entry count");
        directory_size = record.read<std::uint64_t>("zip64 directory size");
        directory_offset = record.read<std::uint64_t>("zip64 directory offset");
    }
    if (directory_offset > archive.size() || directory_size > archive.size() - directory_offset)
        throw Error(path, "central directory",
                    "[" + std::to_string(directory_offset) + ", +" + std::to_string(directory_size) +
                        ") lies outside the file");
    if (entries > directory_size / 46)
        throw Error(path, "entry count",
                    std::to_string(entries) + " entries cannot fit in a " + std::to_string(directory_size) +
                        "-byte directory");

    ByteCursor in(archive.subspan(directory_offset, directory_size), path);
    std::vector<ZipMember> members;
    for (std::uint64_t i = 0; i < entries; ++i) {
        const std::uint64_t entry_at = directory_offset + in.offset();
        const std::string field = "zip entry #" + std::to_string(i);
        if (in.read<std::uint32_t>(field + " signature") != kDirectoryEntry)
            throw Error(path, field + " at " + at_byte(entry_at), "central directory signature missing");
        in.take(4, field);
        auto flags = in.read<std::uint16_t>(field + " flags");
        ZipMember member;
        member.method = in.read<std::uint16_t>(field + " method");
        in.take(4, field);
        member.crc32 = in.read<std::uint32_t>(field + " crc");
        member.compressed_size = in.read<std::uint32_t>(field + " compressed size");
        member.uncompressed_size = in.read<std::uint32_t>(field + " size");
        auto name_length = in.read<std::uint16_t>(field + " name length");
        auto extra_length = in.read<std::uint16_t>(field + " extra length");
        auto comment_length = in.read<std::uint16_t>(field + " comment length");
        in.take(8, field);
        std::uint64_t local_offset = in.read<std::uint32_t>(field + " local header offset");
        auto name = in.take(name_length, field + " name");
        member.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
        if (!valid_utf8(member.name))
            throw Error(path, field + " name", "is not valid UTF-8");
        ByteCursor extra(in.take(extra_length, field + " extra"), path);
        while (extra.remaining() >= 4) {
            auto id = extra.read<std::uint16_t>(field + " extra id");
            auto size = extra.read<std::uint16_t>(field + " extra size");
            ByteCursor block(extra.take(size, field + " extra"), path);
            if (id != 0x0001)
                continue;  // zip64: only the fields that overflowed, in this order
            if (member.uncompressed_size == 0xFFFFFFFF)
                member.uncompressed_size = block.read<std::uint64_t>(field + " zip64 size");
            if (member.compressed_size == 0xFFFFFFFF)
                member.compressed_size = block.read<std::uint64_t>(field + " zip64 compressed size");
            if (local_offset == 0xFFFFFFFF)
                local_offset = block.read<std::uint64_t>(field + " zip64 offset");
        }
        in.take(comment_length, field + " comment");
        if (flags & 1)
            throw Error(path, "member \"" + member.name + "\"", "is encrypted");
        if (member.method != 0 && member.method != 8)
            throw Error(path, "member \"" + member.name + "\"",
                        "uses compression method " + std::to_string(member.method) +
                            " (only stored and deflate are read)");
        if (local_offset > archive.size() || archive.size() - local_offset < 30)
            throw Error(path, "member \"" + member.name + "\" local header",
                        "offset " + std::to_string(local_offset) + " lies outside the file");
        ByteCursor local(archive.subspan(local_offset, 30), path);
        if (local.read<std::uint32_t>("local header signature") != kLocalHeader)
            throw Error(path, "member \"" + member.name + "\" local header at " + at_byte(local_offset),
                        "signature missing");
        local.take(22, "local header");
        std::uint64_t local_name = local.read<std::uint16_t>("local name length");
        std::uint64_t local_extra = local.read<std::uint16_t>("local extra length");
        member.data_offset = local_offset + 30 + local_name + local_extra;
        if (member.data_offset > archive.size() ||
            member.compressed_size > archive.size() - member.data_offset)
            throw Error(path, "member \"" + member.name + "\" data",
                        "[" + std::to_string(member.data_offset) + ", +" +
                            std::to_string(member.compressed_size) + ") lies outside the file");
        if (member.method == 0 && member.compressed_size != member.uncompressed_size)
            throw Error(path, "member \"" + member.name + "\"",
                        "stored member with different compressed and uncompressed sizes");
        if (member.method == 8 && member.uncompressed_size > member.compressed_size * kMaxDeflateRatio + 1024)
            throw Error(path, "member \"" + member.name + "\"",
                        "claims " + std::to_string(member.uncompressed_size) + " bytes from " +
                            std::to_string(member.compressed_size) +
                            " compressed bytes, more than deflate can produce");
        members.push_back(std::move(member));
    }
    return members;
}

std::vector<std::byte> inflate_member(std::span<const std::byte> archive, const ZipMember& member,
                                      std::uint64_t limit, const std::string& path) {
    const std::uint64_t wanted = std::min(limit, member.uncompressed_size);
    auto compressed = archive.subspan(member.data_offset, member.compressed_size);
    if (member.method == 0)
        return {compressed.begin(), compressed.begin() + static_cast<std::ptrdiff_t>(wanted)};
    require_memory(wanted, path, "member \"" + member.name + "\"", "inflating it");
    std::vector<std::byte> out(wanted);
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
        throw Error(path, "member \"" + member.name + "\"", "zlib could not start");
    struct End {
        z_stream& stream;
        ~End() { inflateEnd(&stream); }
    } end{stream};
    std::uint64_t in_done = 0, out_done = 0;
    int status = Z_OK;
    // zlib counts in 32 bits: fed in chunks, 16 MiB of output at a time so a cancel is seen.
    while (out_done < wanted && status == Z_OK) {
        throw_if_read_cancelled();
        std::uint64_t in_chunk = std::min<std::uint64_t>(member.compressed_size - in_done, 1u << 30);
        std::uint64_t out_chunk = std::min<std::uint64_t>(wanted - out_done, 16u << 20);
        stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(compressed.data() + in_done));
        stream.avail_in = static_cast<uInt>(in_chunk);
        stream.next_out = reinterpret_cast<Bytef*>(out.data() + out_done);
        stream.avail_out = static_cast<uInt>(out_chunk);
        status = inflate(&stream, Z_NO_FLUSH);
        in_done += in_chunk - stream.avail_in;
        out_done += out_chunk - stream.avail_out;
        if (status == Z_BUF_ERROR && stream.avail_in == 0 && in_done == member.compressed_size)
            break;
        if (status == Z_BUF_ERROR)
            status = Z_OK;
    }
    if (status != Z_OK && status != Z_STREAM_END)
        throw Error(
            path, "member \"" + member.name + "\"",
            std::string("deflate data are corrupt (zlib: ") + (stream.msg ? stream.msg : "error") + ")");
    if (out_done != wanted)
        throw Error(path, "member \"" + member.name + "\"",
                    "is corrupt: inflates to " + std::to_string(out_done) + " bytes, expected " +
                        std::to_string(wanted));
    if (wanted == member.uncompressed_size) {
        uLong crc = crc32_z(0, reinterpret_cast<const Bytef*>(out.data()), out.size());
        if (crc != member.crc32)
            throw Error(path, "member \"" + member.name + "\"", "CRC-32 mismatch: the member is corrupt");
    }
    return out;
}

namespace {

class NpzModel final : public ModelFile {
public:
    explicit NpzModel(const std::string& path) : ModelFile(path), file_(MappedFile::open(path)) {
        for (auto& member : parse_zip_directory(file_->bytes(), path)) {
            if (member.name.size() < 4 || member.name.substr(member.name.size() - 4) != ".npy")
                continue;
            const std::string field = "member \"" + member.name + "\"";
            // The .npy header sits at the start of the member: inflate only that much.
            auto head = inflate_member(file_->bytes(), member, 65536 + 12, path);
            auto header = parse_npy_header(head, path, field);
            if (header.data_offset + header.byte_size != member.uncompressed_size)
                throw Error(path, field,
                            "holds " + std::to_string(member.uncompressed_size) +
                                " bytes but its header promises " +
                                std::to_string(header.data_offset + header.byte_size));
            TensorInfo info{member.name.substr(0, member.name.size() - 4), header.dtype, header.shape,
                            header.byte_size};
            entries_[info.name] = {member, header};
            add_tensor(info);
        }
        if (tensors().empty())
            throw Error(path, "", "zip archive holds no .npy members");
    }
    std::string_view format() const override { return "npz"; }

protected:
    TensorBytes read_bytes(const TensorInfo& info) const override {
        const auto& [member, header] = entries_.at(info.name);
        if (member.method == 0 && !header.big_endian && !header.fortran_order)
            return TensorBytes::file_view(
                file_, file_->range(member.data_offset + header.data_offset, info.byte_size, info.name));
        auto whole = inflate_member(file_->bytes(), member, member.uncompressed_size, path_);
        auto data = std::span<const std::byte>(whole).subspan(header.data_offset);
        if (!header.big_endian && !header.fortran_order) {
            whole.erase(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(header.data_offset));
            return TensorBytes::owned(std::move(whole));
        }
        return TensorBytes::owned(npy_to_c_order(header, data));
    }

private:
    std::shared_ptr<const MappedFile> file_;
    std::unordered_map<std::string, std::pair<ZipMember, NpyHeader>> entries_;
};

}  // namespace

std::unique_ptr<ModelFile> open_npz(const std::string& path) {
    return std::make_unique<NpzModel>(path);
}

}  // namespace quantlens

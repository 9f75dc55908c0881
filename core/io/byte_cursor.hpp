#pragma once
// Bounds-checked little-endian reads from untrusted bytes; every failure names the file,
// the field being read and its byte offset.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "util/error.hpp"

namespace quantlens {

class ByteCursor {
public:
    ByteCursor(std::span<const std::byte> bytes, std::string file) : bytes_(bytes), file_(std::move(file)) {}

    std::uint64_t offset() const { return offset_; }
    std::uint64_t remaining() const { return bytes_.size() - offset_; }
    const std::string& file() const { return file_; }

    template <class T>
    T read(const std::string& field) {
        T value;
        std::memcpy(&value, take(sizeof(T), field).data(), sizeof(T));
        return value;
    }

    std::span<const std::byte> take(std::uint64_t count, const std::string& field) {
        if (count > remaining())
            throw Error(file_, field + " at " + at_byte(offset_),
                        "needs " + std::to_string(count) + " bytes but only " + std::to_string(remaining()) +
                            " remain in the file");
        auto result = bytes_.subspan(offset_, count);
        offset_ += count;
        return result;
    }

    [[noreturn]] void fail(const std::string& field, const std::string& reason, std::uint64_t at) const {
        throw Error(file_, field + " at " + at_byte(at), reason);
    }

private:
    std::span<const std::byte> bytes_;
    std::string file_;
    std::uint64_t offset_ = 0;
};

}  // namespace quantlens

#include <zlib.h>

#include "io/numpy.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace quantlens {

namespace {

std::string descr_of(DType dtype) {
    switch (dtype) {
        case DType::F64: return "<f8";
        case DType::F32: return "<f4";
        case DType::F16: return "<f2";
        case DType::I64: return "<i8";
        case DType::I32: return "<i4";
        case DType::I16: return "<i2";
        case DType::I8: return "|i1";
        case DType::U64: return "<u8";
        case DType::U32: return "<u4";
        case DType::U16: return "<u2";
        case DType::U8: return "|u1";
        case DType::BOOL: return "|b1";
        default: return {};
    }
}

template <class T>
void append(std::string& out, T value) {
    out.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

}  // namespace

std::string npy_header_bytes(DType dtype, const std::vector<std::int64_t>& shape) {
    std::string descr = descr_of(dtype);
    if (descr.empty())
        throw Error("", std::string(dtype_name(dtype)), "NumPy has no dtype for this type");
    std::string dims;
    for (auto dim : shape)
        dims += std::to_string(dim) + ", ";
    if (shape.size() > 1)
        dims.resize(dims.size() - 2);
    else if (shape.size() == 1)
        dims.pop_back();  // "(5,)"
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    std::size_t total = 10 + dict.size() + 1;
    dict.append((64 - total % 64) % 64, ' ');  // the format aligns the data to 64 bytes
    dict += '\n';
    std::string header = "\x93NUMPY";
    header += '\x01';
    header += '\x00';
    append<std::uint16_t>(header, static_cast<std::uint16_t>(dict.size()));
    return header + dict;
}

void write_npy(const std::string& path, const TensorToWrite& tensor) {
    AtomicFile out(path);
    std::string header = npy_header_bytes(tensor.dtype, tensor.shape);
    out.write(header.data(), header.size());
    out.write(tensor.bytes);
    out.commit();
}

void write_npz(const std::string& path, const std::vector<TensorToWrite>& tensors) {
    AtomicFile out(path);
    std::string directory;
    for (const auto& tensor : tensors) {
        std::string header = npy_header_bytes(tensor.dtype, tensor.shape);
        std::string name = tensor.name + ".npy";
        std::uint64_t size = header.size() + tensor.bytes.size();
        if (size >= 0xFFFFFFFFull || out.position() >= 0xFFFFFFFFull)
            throw Error(path, tensor.name, "the npz writer writes members and archives under 4 GiB");
        uLong crc = crc32_z(0, reinterpret_cast<const Bytef*>(header.data()), header.size());
        crc = crc32_z(crc, reinterpret_cast<const Bytef*>(tensor.bytes.data()), tensor.bytes.size());
        auto offset = static_cast<std::uint32_t>(out.position());
        std::string local;
        append<std::uint32_t>(local, 0x04034b50);
        append<std::uint16_t>(local, 20);    // version needed
        append<std::uint16_t>(local, 0);     // flags
        append<std::uint16_t>(local, 0);     // stored
        append<std::uint16_t>(local, 0);     // time
        append<std::uint16_t>(local, 0x21);  // date 1980-01-01
        append<std::uint32_t>(local, static_cast<std::uint32_t>(crc));
        append<std::uint32_t>(local, static_cast<std::uint32_t>(size));
        append<std::uint32_t>(local, static_cast<std::uint32_t>(size));
        append<std::uint16_t>(local, static_cast<std::uint16_t>(name.size()));
        append<std::uint16_t>(local, 0);
        local += name;
        out.write(local.data(), local.size());
        out.write(header.data(), header.size());
        out.write(tensor.bytes);

        append<std::uint32_t>(directory, 0x02014b50);
        append<std::uint16_t>(directory, 20);
        directory += local.substr(4, 26);     // the same fields as the local header
        append<std::uint16_t>(directory, 0);  // comment length
        append<std::uint16_t>(directory, 0);  // disk
        append<std::uint16_t>(directory, 0);  // internal attributes
        append<std::uint32_t>(directory, 0);  // external attributes
        append<std::uint32_t>(directory, offset);
        directory += name;
    }
    auto directory_offset = out.position();
    if (directory_offset + directory.size() >= 0xFFFFFFFFull)
        throw Error(path, "", "the npz writer writes archives under 4 GiB");
    std::string end;
    append<std::uint32_t>(end, 0x06054b50);
    append<std::uint32_t>(end, 0);
    append<std::uint16_t>(end, static_cast<std::uint16_t>(tensors.size()));
    append<std::uint16_t>(end, static_cast<std::uint16_t>(tensors.size()));
    append<std::uint32_t>(end, static_cast<std::uint32_t>(directory.size()));
    append<std::uint32_t>(end, static_cast<std::uint32_t>(directory_offset));
    append<std::uint16_t>(end, 0);
    out.write(directory.data(), directory.size());
    out.write(end.data(), end.size());
    out.commit();
}

}  // namespace quantlens

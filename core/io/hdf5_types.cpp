#include "io/hdf5_types.hpp"

#include "io/hdf5_probe.hpp"
#include "util/error.hpp"

namespace quantlens {

std::recursive_mutex& hdf5_mutex() {
    static std::recursive_mutex mutex;
    // A forked HDF5 check (io/hdf5_probe) inherits `mutex` as the forking thread held it: the
    // child, single-threaded, takes one of its own.
    static std::recursive_mutex probe_mutex;
    static bool quiet = [] {
        return H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
    }();  // errors come back as values
    (void)quiet;
    return in_hdf5_probe() ? probe_mutex : mutex;
}

namespace {

hid_t custom_float(std::size_t sign_pos, std::size_t exp_pos, std::size_t exp_bits, std::size_t mantissa_bits,
                   std::size_t bias) {
    hid_t type = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(type, sign_pos, exp_pos, exp_bits, 0, mantissa_bits);
    H5Tset_precision(type, sign_pos + 1);
    H5Tset_size(type, (sign_pos + 1) / 8);
    H5Tset_ebias(type, bias);
    return type;
}

}  // namespace

hid_t memory_type_for(DType dtype) {
    switch (dtype) {
        case DType::F64: return H5Tcopy(H5T_IEEE_F64LE);
        case DType::F32: return H5Tcopy(H5T_IEEE_F32LE);
        case DType::F16: return custom_float(15, 10, 5, 10, 15);  // IEEE binary16, as h5py writes it
        case DType::BF16: return custom_float(15, 7, 8, 7, 127);
        case DType::I64: return H5Tcopy(H5T_STD_I64LE);
        case DType::I32: return H5Tcopy(H5T_STD_I32LE);
        case DType::I16: return H5Tcopy(H5T_STD_I16LE);
        case DType::I8: return H5Tcopy(H5T_STD_I8LE);
        case DType::U64: return H5Tcopy(H5T_STD_U64LE);
        case DType::U32: return H5Tcopy(H5T_STD_U32LE);
        case DType::U16: return H5Tcopy(H5T_STD_U16LE);
        default: return H5Tcopy(H5T_STD_U8LE);  // U8, BOOL and the FP8 types (marked by attribute)
    }
}

std::optional<DType> dtype_of_dataset(hid_t dataset, hid_t file_type) {
    if (H5Aexists(dataset, kDTypeAttribute) > 0) {
        std::vector<std::string> values = read_string_attribute(dataset, ".", kDTypeAttribute, "");
        if (!values.empty()) {
            auto marked = dtype_from_name(values.front());
            if (marked && !onnx_only(*marked) && dtype_info(*marked).block_bytes == H5Tget_size(file_type))
                return marked;
        }
    }
    std::size_t size = H5Tget_size(file_type);
    switch (H5Tget_class(file_type)) {
        case H5T_FLOAT: {
            std::size_t sign_pos, exp_pos, exp_bits, mantissa_pos, mantissa_bits;
            H5Tget_fields(file_type, &sign_pos, &exp_pos, &exp_bits, &mantissa_pos, &mantissa_bits);
            if (size == 8)
                return DType::F64;
            if (size == 4)
                return DType::F32;
            if (size == 2 && exp_bits == 5)
                return DType::F16;
            if (size == 2 && exp_bits == 8)
                return DType::BF16;
            return std::nullopt;
        }
        case H5T_INTEGER: {
            bool is_signed = H5Tget_sign(file_type) == H5T_SGN_2;
            if (size == 8)
                return is_signed ? DType::I64 : DType::U64;
            if (size == 4)
                return is_signed ? DType::I32 : DType::U32;
            if (size == 2)
                return is_signed ? DType::I16 : DType::U16;
            if (size == 1)
                return is_signed ? DType::I8 : DType::U8;
            return std::nullopt;
        }
        case H5T_ENUM:  // h5py stores numpy bool as an enum {FALSE, TRUE} over int8
            return size == 1 ? std::optional(DType::BOOL) : std::nullopt;
        default: return std::nullopt;
    }
}

std::vector<std::string> read_string_attribute(hid_t file, const std::string& object, const std::string& name,
                                               const std::string& path) {
    std::lock_guard lock(hdf5_mutex());
    if (H5Aexists_by_name(file, object.c_str(), name.c_str(), confined_link_access()) <= 0)
        return {};
    Handle attribute(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, confined_link_access()),
                     H5Aclose);
    Handle type(H5Aget_type(attribute.id), H5Tclose);
    if (H5Tget_class(type.id) != H5T_STRING)
        throw Error(path, object + " attribute " + name, "expected a string attribute");
    Handle space(H5Aget_space(attribute.id), H5Sclose);
    hssize_t count = H5Sget_simple_extent_npoints(space.id);
    if (count < 0 || count > (1 << 20))
        throw Error(path, object + " attribute " + name, "has an unreasonable number of strings");
    std::vector<std::string> values;
    if (count == 0)
        return values;
    if (H5Tis_variable_str(type.id) > 0) {
        std::vector<char*> pointers(static_cast<std::size_t>(count), nullptr);
        Handle memory(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(memory.id, H5T_VARIABLE);
        H5Tset_cset(memory.id, H5Tget_cset(type.id));
        if (H5Aread(attribute.id, memory.id, pointers.data()) < 0)
            throw Error(path, object + " attribute " + name, "cannot be read");
        for (char* p : pointers)
            values.emplace_back(p ? p : "");
        H5Dvlen_reclaim(memory.id, space.id, H5P_DEFAULT, pointers.data());
    } else {
        std::size_t width = H5Tget_size(type.id);
        if (width == 0 || width > (1 << 20))
            throw Error(path, object + " attribute " + name, "has an unreasonable string width");
        std::vector<char> buffer(width * static_cast<std::size_t>(count));
        if (H5Aread(attribute.id, type.id, buffer.data()) < 0)
            throw Error(path, object + " attribute " + name, "cannot be read");
        for (hssize_t i = 0; i < count; ++i) {
            const char* start = buffer.data() + static_cast<std::size_t>(i) * width;
            std::size_t length = 0;
            while (length < width && start[length] != '\0')
                ++length;
            values.emplace_back(start, length);
        }
    }
    return values;
}

namespace {

herr_t deny_external_link(const char*, const char*, const char*, const char*, unsigned*, hid_t, void*) {
    return -1;  // a negative return makes the library refuse the traversal
}

}  // namespace

hid_t confined_link_access() {
    static const hid_t access = [] {
        const hid_t list = H5Pcreate(H5P_LINK_ACCESS);
        H5Pset_elink_cb(list, deny_external_link, nullptr);
        return list;
    }();
    return access;
}

hid_t confined_dataset_access() {
    static const hid_t access = [] {
        const hid_t list = H5Pcreate(H5P_DATASET_ACCESS);  // a link-access list too
        H5Pset_elink_cb(list, deny_external_link, nullptr);
        return list;
    }();
    return access;
}

void refuse_outside_storage(hid_t dataset, const std::string& path, const std::string& name) {
    Handle creation(H5Dget_create_plist(dataset), H5Pclose);
    if (creation.id < 0)
        throw Error(path, name, "HDF5 library cannot read the dataset's storage layout");
    if (H5Pget_layout(creation.id) == H5D_VIRTUAL)
        throw Error(
            path, name,
            "is a virtual dataset, whose data are mapped from other datasets or files; QuantLens reads "
            "only data stored inside the file");
    const int external = H5Pget_external_count(creation.id);
    if (external != 0)
        throw Error(
            path, name,
            "keeps its data in " +
                (external < 0 ? std::string("external files")
                              : std::to_string(external) + " external file(s)") +
                " outside the HDF5 file; QuantLens reads and writes only data stored inside the file");
}

}  // namespace quantlens

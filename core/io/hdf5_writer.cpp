#include <hdf5.h>

#include <map>

#include "io/hdf5.hpp"
#include "io/hdf5_types.hpp"
#include "util/atomic_file.hpp"
#include "util/error.hpp"

namespace quantlens {

void write_hdf5(const std::string& path, const std::vector<TensorToWrite>& tensors) {
    AtomicFile out(path);  // HDF5 writes the temporary by name; AtomicFile fsyncs and renames it
    {
        std::lock_guard lock(hdf5_mutex());
        Handle file(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
        if (file.id < 0)
            throw Error(path, "", "HDF5 library cannot create the file");
        Handle link_properties(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
        H5Pset_create_intermediate_group(link_properties.id, 1);
        for (const auto& tensor : tensors) {
            auto needed = storage_bytes(tensor.dtype, element_count(tensor.shape).value_or(0));
            if (dtype_info(tensor.dtype).is_block || onnx_only(tensor.dtype))
                throw Error(path, tensor.name,
                            std::string(dtype_name(tensor.dtype)) + " is not written to HDF5");
            if (!needed || *needed != tensor.bytes.size())
                throw Error(path, tensor.name, "byte count does not match shape " + shape_text(tensor.shape));
            std::vector<hsize_t> dims(tensor.shape.begin(), tensor.shape.end());
            Handle space(tensor.shape.empty()
                             ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                         H5Sclose);
            Handle type(memory_type_for(tensor.dtype), H5Tclose);
            Handle dataset(H5Dcreate2(file.id, tensor.name.c_str(), type.id, space.id, link_properties.id,
                                      H5P_DEFAULT, H5P_DEFAULT),
                           H5Dclose);
            if (dataset.id < 0)
                throw Error(path, tensor.name,
                            "HDF5 library cannot create the dataset (is the name used twice?)");
            if (!tensor.bytes.empty() &&
                H5Dwrite(dataset.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, tensor.bytes.data()) < 0)
                throw Error(path, tensor.name, "HDF5 library failed to write the dataset");
            if (tensor.dtype == DType::F8_E4M3 || tensor.dtype == DType::F8_E5M2 ||
                tensor.dtype == DType::BOOL) {
                std::string marker(dtype_name(tensor.dtype));
                Handle string_type(H5Tcopy(H5T_C_S1), H5Tclose);
                H5Tset_size(string_type.id, marker.size());
                Handle scalar(H5Screate(H5S_SCALAR), H5Sclose);
                Handle attribute(H5Acreate2(dataset.id, kDTypeAttribute, string_type.id, scalar.id,
                                            H5P_DEFAULT, H5P_DEFAULT),
                                 H5Aclose);
                H5Awrite(attribute.id, string_type.id, marker.data());
            }
        }
        if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0)
            throw Error(path, "", "HDF5 library failed to flush the file");
    }
    out.commit();
}

namespace {

// Attributes larger than this are refused rather than buffered (Keras's model_config, the
// largest attribute Keras writes, is well under 1 MiB even for big models).
constexpr hsize_t kMaxAttributeBytes = 64ull << 20;

struct AttributeCopy {
    hid_t target;
    const std::string& path;
    std::string object;
    std::string error;  // set when an attribute cannot be carried over; stops the iteration
};

herr_t copy_attribute(hid_t source, const char* name, const H5A_info_t*, void* data) {
    auto& copy = *static_cast<AttributeCopy*>(data);
    const std::string where = copy.object + " attribute \"" + name + "\"";
    Handle attribute(H5Aopen(source, name, H5P_DEFAULT), H5Aclose);
    Handle file_type(H5Aget_type(attribute.id), H5Tclose);
    Handle space(H5Aget_space(attribute.id), H5Sclose);
    if (attribute.id < 0 || file_type.id < 0 || space.id < 0) {
        copy.error = where + ": HDF5 library cannot read it";
        return -1;
    }
    if (H5Tdetect_class(file_type.id, H5T_REFERENCE) > 0) {
        copy.error = where + ": holds references, which point into the source file";
        return -1;
    }
    Handle memory_type(H5Tget_native_type(file_type.id, H5T_DIR_ASCEND), H5Tclose);
    const auto points = H5Sget_simple_extent_npoints(space.id);
    const auto element = memory_type.id < 0 ? 0 : H5Tget_size(memory_type.id);
    if (points < 0 || element == 0 || static_cast<hsize_t>(points) > kMaxAttributeBytes / element) {
        copy.error = where + ": not a readable value of at most 64 MiB";
        return -1;
    }
    if (points == 0) {  // an empty array (Keras's weight_names of a layer without weights)
        Handle empty(H5Acreate2(copy.target, name, file_type.id, space.id, H5P_DEFAULT, H5P_DEFAULT),
                     H5Aclose);
        if (empty.id >= 0)
            return 0;
        copy.error = where + ": HDF5 library cannot write it";
        return -1;
    }
    std::vector<std::byte> buffer(static_cast<std::size_t>(points) * element);
    if (H5Aread(attribute.id, memory_type.id, buffer.data()) < 0) {
        copy.error = where + ": HDF5 library cannot read its value";
        return -1;
    }
    Handle written(H5Acreate2(copy.target, name, file_type.id, space.id, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const bool ok = written.id >= 0 && H5Awrite(written.id, memory_type.id, buffer.data()) >= 0;
    const bool variable =
        H5Tdetect_class(memory_type.id, H5T_VLEN) > 0 ||
        (H5Tget_class(memory_type.id) == H5T_STRING && H5Tis_variable_str(memory_type.id) > 0);
    if (variable)  // frees the strings and sequences H5Aread allocated
        H5Dvlen_reclaim(memory_type.id, space.id, H5P_DEFAULT, buffer.data());
    if (!ok) {
        copy.error = where + ": HDF5 library cannot write it";
        return -1;
    }
    return 0;
}

void copy_attributes(hid_t source, hid_t target, const std::string& path, const std::string& object) {
    AttributeCopy copy{target, path, object, {}};
    hsize_t index = 0;
    if (H5Aiterate2(source, H5_INDEX_NAME, H5_ITER_INC, &index, copy_attribute, &copy) < 0)
        throw Error(path, object,
                    copy.error.empty() ? "HDF5 library cannot list the attributes" : copy.error);
}

struct LinkEntry {
    std::string name;
    H5L_type_t type;
};

herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) {
    static_cast<std::vector<LinkEntry>*>(data)->push_back({name, info->type});
    return 0;
}

// A dataspace like `source`'s without its maximum dimensions (the copy is contiguous).
hid_t fixed_space_like(hid_t source) {
    switch (H5Sget_simple_extent_type(source)) {
        case H5S_SCALAR: return H5Screate(H5S_SCALAR);
        case H5S_NULL: return H5Screate(H5S_NULL);
        default: {
            const int rank = H5Sget_simple_extent_ndims(source);
            if (rank < 0 || rank > 32)
                return -1;
            std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
            H5Sget_simple_extent_dims(source, dims.data(), nullptr);
            return H5Screate_simple(rank, dims.data(), nullptr);
        }
    }
}

// The empty copy of the source's tree in `target`: every link, group, committed type and
// dataset (without values) with its attributes. Returns the datasets' names, each once.
std::vector<std::string> copy_structure(hid_t source, hid_t target, const std::string& path) {
    copy_attributes(source, target, path, "/");
    std::vector<LinkEntry> links;
    if (H5Lvisit(source, H5_INDEX_NAME, H5_ITER_INC, collect_link, &links) < 0)
        throw Error(path, "", "HDF5 library cannot walk the links");
    std::map<haddr_t, std::string> created;  // object address -> the first name it was made at
    std::vector<std::string> datasets;
    for (const auto& link : links) {
        const char* name = link.name.c_str();
        if (link.type == H5L_TYPE_SOFT) {
            H5L_info_t info;
            if (H5Lget_info(source, name, &info, H5P_DEFAULT) < 0 || info.u.val_size > 65536)
                throw Error(path, link.name, "soft link that cannot be read");
            std::string value(info.u.val_size, '\0');
            if (H5Lget_val(source, name, value.data(), value.size(), H5P_DEFAULT) < 0 ||
                H5Lcreate_soft(value.c_str(), target, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
                throw Error(path, link.name, "HDF5 library cannot copy the soft link");
            continue;
        }
        if (link.type != H5L_TYPE_HARD)
            throw Error(path, link.name,
                        "is an external or user-defined link (to another file): not exported");
        H5O_info_t info;
        if (H5Oget_info_by_name2(source, name, &info, H5O_INFO_BASIC, confined_link_access()) < 0)
            throw Error(path, link.name, "HDF5 library cannot read the object");
        if (auto first = created.find(info.addr); first != created.end()) {
            if (H5Lcreate_hard(target, first->second.c_str(), target, name, H5P_DEFAULT, H5P_DEFAULT) < 0)
                throw Error(path, link.name, "HDF5 library cannot copy the hard link");
            continue;
        }
        created.emplace(info.addr, link.name);
        if (info.type == H5O_TYPE_GROUP) {
            Handle from(H5Gopen2(source, name, H5P_DEFAULT), H5Gclose);
            Handle to(H5Gcreate2(target, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
            if (from.id < 0 || to.id < 0)
                throw Error(path, link.name, "HDF5 library cannot copy the group");
            copy_attributes(from.id, to.id, path, link.name);
        } else if (info.type == H5O_TYPE_DATASET) {
            Handle from(H5Dopen2(source, name, confined_dataset_access()), H5Dclose);
            if (from.id < 0)
                throw Error(path, link.name, "cannot open dataset");
            refuse_outside_storage(from.id, path, link.name);
            Handle type(H5Dget_type(from.id), H5Tclose);
            Handle source_space(H5Dget_space(from.id), H5Sclose);
            Handle space(fixed_space_like(source_space.id), H5Sclose);
            if (type.id < 0 || space.id < 0)
                throw Error(path, link.name, "HDF5 library cannot read the dataset's type or shape");
            Handle to(H5Dcreate2(target, name, type.id, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      H5Dclose);
            if (to.id < 0)
                throw Error(path, link.name, "HDF5 library cannot create the dataset");
            copy_attributes(from.id, to.id, path, link.name);
            datasets.push_back(link.name);
        } else if (info.type == H5O_TYPE_NAMED_DATATYPE) {
            Handle from(H5Topen2(source, name, H5P_DEFAULT), H5Tclose);
            Handle copy(H5Tcopy(from.id), H5Tclose);
            if (from.id < 0 || copy.id < 0 ||
                H5Tcommit2(target, name, copy.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) < 0)
                throw Error(path, link.name, "HDF5 library cannot copy the committed type");
            copy_attributes(from.id, copy.id, path, link.name);
        } else {
            throw Error(path, link.name, "an HDF5 object of an unknown kind: not exported");
        }
    }
    return datasets;
}

}  // namespace

void write_hdf5_like(const ModelFile& source, const std::string& path, const DatasetValues& values,
                     const CancelToken* cancel) {
    AtomicFile out(path);  // HDF5 writes the temporary by name; AtomicFile fsyncs and renames it
    std::unique_lock lock(hdf5_mutex());
    Handle from(H5Fopen(source.path().c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (from.id < 0)
        throw Error(source.path(), "", "HDF5 library cannot open the file");
    Handle file(H5Fcreate(out.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    if (file.id < 0)
        throw Error(path, "", "HDF5 library cannot create the file");
    struct RelockFirst {  // the handles above close under the lock, even after a throw from `values`
        std::unique_lock<std::recursive_mutex>& lock;
        ~RelockFirst() {
            if (!lock.owns_lock())
                lock.lock();
        }
    } relock{lock};
    const auto datasets = copy_structure(from.id, file.id, source.path());
    for (const auto& name : datasets) {
        const auto& info = source.tensor(name);
        TensorBytes keep;
        lock.unlock();  // `values` may read the source through the reader, which takes the lock
        const auto bytes = values(info, keep);
        lock.lock();
        if (cancel)
            cancel->throw_if_cancelled();
        Handle dataset(H5Dopen2(file.id, name.c_str(), H5P_DEFAULT), H5Dclose);
        Handle type(memory_type_for(info.dtype), H5Tclose);
        if (bytes.size() != info.byte_size)
            throw Error(path, name,
                        std::to_string(bytes.size()) + " bytes given for " + std::to_string(info.byte_size) +
                            " of the dataset");
        if (dataset.id < 0 || (!bytes.empty() && H5Dwrite(dataset.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                                          bytes.data()) < 0))
            throw Error(path, name, "HDF5 library failed to write the dataset");
        keep.release_pages();
    }
    if (H5Fflush(file.id, H5F_SCOPE_GLOBAL) < 0)
        throw Error(path, "", "HDF5 library failed to flush the file");
    const bool closed = H5Fclose(file.id) >= 0;
    file.id = -1;
    if (!closed)
        throw Error(path, "", "HDF5 library failed to close the file");
    lock.unlock();
    out.commit();
}

}  // namespace quantlens

#include <hdf5.h>

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
            if (dtype_info(tensor.dtype).is_block)
                throw Error(path, tensor.name, "ggml block types are not written to HDF5");
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

Hdf5DatasetEditor::Hdf5DatasetEditor(const std::string& file_path, std::string display_path)
    : display_path_(std::move(display_path)) {
    std::lock_guard lock(hdf5_mutex());
    file_ = H5Fopen(file_path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file_ < 0)
        throw Error(display_path_, "", "HDF5 library cannot open the copy for writing");
}

Hdf5DatasetEditor::~Hdf5DatasetEditor() {
    std::lock_guard lock(hdf5_mutex());
    if (file_ >= 0)
        H5Fclose(file_);
}

void Hdf5DatasetEditor::overwrite(const std::string& name, DType dtype, std::span<const std::byte> bytes) {
    std::lock_guard lock(hdf5_mutex());
    Handle dataset(H5Dopen2(file_, name.c_str(), confined_dataset_access()), H5Dclose);
    if (dataset.id < 0)
        throw Error(display_path_, name, "no such dataset to overwrite");
    refuse_outside_storage(dataset.id, display_path_, name);
    Handle space(H5Dget_space(dataset.id), H5Sclose);
    const auto points = H5Sget_simple_extent_npoints(space.id);
    const auto needed = storage_bytes(dtype, static_cast<std::uint64_t>(points < 0 ? 0 : points));
    if (!needed || *needed != bytes.size())
        throw Error(display_path_, name,
                    std::to_string(bytes.size()) + " bytes given for a dataset of " + std::to_string(points) +
                        " values");
    Handle type(memory_type_for(dtype), H5Tclose);
    if (!bytes.empty() && H5Dwrite(dataset.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0)
        throw Error(display_path_, name, "HDF5 library failed to write the dataset");
}

void Hdf5DatasetEditor::close() {
    std::lock_guard lock(hdf5_mutex());
    if (file_ < 0)
        return;
    const bool flushed = H5Fflush(file_, H5F_SCOPE_GLOBAL) >= 0;
    const bool closed = H5Fclose(file_) >= 0;
    file_ = -1;
    if (!flushed || !closed)
        throw Error(display_path_, "", "HDF5 library failed to flush the file");
}

}  // namespace quantlens

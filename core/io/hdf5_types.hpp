#pragma once
// Shared HDF5 plumbing for the reader and the writer: one lock (Debian's libhdf5 is the
// non-thread-safe build), RAII handles, and the mapping between HDF5 types and DType.
#include <hdf5.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tensor/dtype.hpp"

namespace quantlens {

std::recursive_mutex& hdf5_mutex();

struct Handle {
    Handle(hid_t handle, herr_t (*close)(hid_t)) : id(handle), close_(close) {}
    ~Handle() {
        if (id >= 0)
            close_(id);
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    hid_t id;

private:
    herr_t (*close_)(hid_t);
};

// QuantLens marks types HDF5 has no float layout for (FP8) with this attribute.
inline constexpr const char* kDTypeAttribute = "quantlens_dtype";

std::optional<DType> dtype_of_dataset(hid_t dataset, hid_t file_type);
hid_t memory_type_for(DType dtype);  // little-endian layout of the DType; caller closes

// Access property lists under which external links (to other HDF5 files) are never
// traversed: every open and look-up by name passes one, so a file cannot reach outside itself.
hid_t confined_link_access();     // for H5Lexists, H5Aopen_by_name, …
hid_t confined_dataset_access();  // for H5Dopen2

// Error naming the dataset when its data live outside the file: external storage (raw data
// in other files, named by absolute or relative paths) or a virtual dataset (mapped from
// other datasets, possibly in other files). Reading either would show another file's bytes;
// writing either would change another file.
void refuse_outside_storage(hid_t dataset, const std::string& path, const std::string& name);

// A string attribute (fixed or variable length, scalar or array); empty when absent.
std::vector<std::string> read_string_attribute(hid_t file, const std::string& object, const std::string& name,
                                               const std::string& path);

}  // namespace quantlens

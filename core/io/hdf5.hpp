#pragma once
// HDF5 files through the HDF5 C library: any tree of datasets, and the Keras .h5 layout
// (docs/formats.md §9) recognised so layers come out with kernel, bias and Keras layouts.
#include <memory>
#include <string>
#include <vector>

#include "io/model_file.hpp"
#include "io/safetensors.hpp"  // TensorToWrite

namespace quantlens {

std::unique_ptr<ModelFile> open_hdf5(const std::string& path);

// Layers described by a Keras model_config JSON text and the per-layer weight names
// (layer name -> tensor names). Exposed for fuzzing and tests.
std::vector<Layer> keras_layers(const std::string& model_config_json,
                                const std::vector<std::pair<std::string, std::vector<std::string>>>& weights,
                                const std::string& path);

// Writes each tensor as a dataset at its name (slashes make groups), atomically.
void write_hdf5(const std::string& path, const std::vector<TensorToWrite>& tensors);

// Overwrites datasets of an existing HDF5 file in place, keeping their types, shapes,
// attributes and every other object (exports copy the source, then edit the copy).
class Hdf5DatasetEditor {
public:
    Hdf5DatasetEditor(const std::string& file_path, std::string display_path);
    ~Hdf5DatasetEditor();
    Hdf5DatasetEditor(const Hdf5DatasetEditor&) = delete;
    Hdf5DatasetEditor& operator=(const Hdf5DatasetEditor&) = delete;
    // `bytes` hold the dataset's values laid out as `dtype`; HDF5 converts to the file's type.
    void overwrite(const std::string& dataset, DType dtype, std::span<const std::byte> bytes);
    void close();  // flushes; errors surface here rather than in the destructor

private:
    std::string display_path_;
    long long file_ = -1;
};

}  // namespace quantlens

#pragma once
// HDF5 files through the HDF5 C library: any tree of datasets, and the Keras .h5 layout
// (REFERENCE.md §9) recognised so layers come out with kernel, bias and Keras layouts.
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

}  // namespace quantlens

#pragma once
// HDF5 files through the HDF5 C library: any tree of datasets, and the Keras .h5 layout
// (docs/formats.md §9) recognised so layers come out with kernel, bias and Keras layouts.
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/model_file.hpp"
#include "io/safetensors.hpp"  // TensorToWrite
#include "util/progress.hpp"   // CancelToken

namespace quantlens {

std::unique_ptr<ModelFile> open_hdf5(const std::string& path);

// Layers described by a Keras model_config JSON text and the per-layer weight names
// (layer name -> tensor names). Exposed for fuzzing and tests.
std::vector<Layer> keras_layers(const std::string& model_config_json,
                                const std::vector<std::pair<std::string, std::vector<std::string>>>& weights,
                                const std::string& path);

// Writes each tensor as a dataset at its name (slashes make groups), atomically.
void write_hdf5(const std::string& path, const std::vector<TensorToWrite>& tensors);

// Writes a fresh HDF5 file at `path` (atomically) with the structure of the HDF5 file `source`:
// its groups, hard and soft links and committed types, and every attribute (Keras's
// model_config, layer_names, weight_names, …), each dataset with its own type and shape and
// the values `values` gives, laid out as the dataset's DType (HDF5 converts). Nothing else of
// the source's bytes is carried over: no free space or residue of deleted objects, no chunk
// layout or filters. Refuses, naming it, what would reach outside the file: external storage,
// virtual datasets, external links, and references (which point into the source).
using DatasetValues = std::function<std::span<const std::byte>(const TensorInfo& info, TensorBytes& keep)>;
void write_hdf5_like(const ModelFile& source, const std::string& path, const DatasetValues& values,
                     const CancelToken* cancel = nullptr);

}  // namespace quantlens

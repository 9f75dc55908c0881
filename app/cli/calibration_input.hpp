#pragma once
// Reads a layer's calibration inputs X [samples, features] from an .npy/.npz/safetensors/
// HDF5 file (the first 2-D tensor, or the one named) for GPTQ and smoothing.
#include <string>
#include <vector>

#include "quant/quantizer.hpp"

namespace quantlens::cli {

struct LoadedInputs {
    std::vector<float> values;
    CalibrationInputs inputs;
};

LoadedInputs load_calibration_inputs(const std::string& path, const std::string& tensor_name);

}  // namespace quantlens::cli

#pragma once
// Reads a layer's calibration inputs X [samples, features] from an .npy/.npz/safetensors/
// HDF5 file (the first 2-D tensor, or the one named) for GPTQ and smoothing; shared by the
// CLI's --calib and the GUI's File > Open Calibration Inputs.
#include <string>
#include <vector>

#include "quant/quantizer.hpp"

namespace quantlens {

struct LoadedInputs {
    std::vector<float> values;
    CalibrationInputs inputs;  // views `values` (moving keeps it valid; do not copy)
    LoadedInputs() = default;
    LoadedInputs(LoadedInputs&&) = default;
    LoadedInputs& operator=(LoadedInputs&&) = default;
    LoadedInputs(const LoadedInputs&) = delete;
    LoadedInputs& operator=(const LoadedInputs&) = delete;
};

LoadedInputs load_calibration_inputs(const std::string& path, const std::string& tensor_name);

}  // namespace quantlens

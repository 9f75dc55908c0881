#pragma once
// Labelled calibration data for classifiers: any file QuantLens reads (.npz, .npy folder, HDF5)
// holding inputs "x" (or "inputs") [samples, ...] — [samples, features] or channels-last images
// [samples, height, width, channels] — and integer labels "y" (or "labels") [samples].
#include <cstdint>
#include <string>
#include <vector>

#include "nn/network.hpp"

namespace quantlens {

struct LabelledData {
    std::string path;
    nn::Matrix<double> x;                    // one row per sample, each flattened in stored (C) order
    std::vector<std::int64_t> sample_shape;  // the stored shape of one sample
    std::vector<std::int64_t> y;
};

LabelledData load_labelled_data(const std::string& path, std::size_t max_samples = 0);  // 0: all

// Error naming the file when the samples do not fit the network's input or its classes.
void check_fits(const LabelledData& data, const nn::Graph& graph, const std::string& model_path);

}  // namespace quantlens

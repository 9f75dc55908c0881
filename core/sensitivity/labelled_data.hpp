#pragma once
// Calibration data for the engine's networks.
// - Classifiers: any file QuantLens reads (.npz, .npy folder, HDF5) holding inputs "x" (or
//   "inputs") [samples, ...] — [samples, features] or channels-last images [samples, height,
//   width, channels] — and integer labels "y" (or "labels") [samples].
// - Language models: token ids "input_ids" (or "ids", "tokens") [samples, tokens], integers; or
//   a plain-text file (.txt) for byte-level models, cut into windows of `window` bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.hpp"
#include "nn/network.hpp"

namespace quantlens {

struct LabelledData {
    std::string path;
    bool tokens = false;                     // x holds token ids and y is empty (next-token targets)
    nn::Matrix<double> x;                    // one row per sample, each flattened in stored (C) order
    std::vector<std::int64_t> sample_shape;  // the stored shape of one sample
    std::vector<std::int64_t> y;
};

LabelledData load_labelled_data(const std::string& path, std::size_t max_samples = 0);  // 0: all
LabelledData load_token_data(const std::string& path, std::size_t max_samples = 0, std::int64_t window = 64);
// The kind the model needs: token ids for the language models the engine builds, labelled data otherwise.
LabelledData load_model_data(const Model& model, const std::string& path, std::size_t max_samples = 0);

// Error naming the file when the samples do not fit the network's input or its classes.
void check_fits(const LabelledData& data, const nn::Graph& graph, const std::string& model_path);

}  // namespace quantlens
